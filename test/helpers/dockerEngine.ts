/**
 * What a real `pulumi up` of the Docker platform needs on this machine, for test/engine/docker.test.ts
 * and scripts/bench-engine-docker.ts: podman's Docker-compatible API over the tests' storage, the
 * debootstrap base image and the Redis/HAProxy stand-ins in it, a release mirror for the CLI versions
 * asked for, and the stub model where the servers reach it (`host.containers.internal`, on all
 * addresses, behind a random API key). It holds the cross-process lock of the Docker engine suites:
 * their stacks use the fixed container names of one engine.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startStubModel, StubModel } from "../../smoke/local/stub-model";
import { acquireLock, ensureBaseImage, ensureReleaseFiles, pinnedCliVersion, PodmanService, RELEASE_ASSET_X64, startPodmanService, startReleaseMirror } from "./containers";
import { EngineStack } from "./engine";
import { ensureStandInImages } from "./standins";

export interface DockerEngineFixture {
    readonly service: PodmanService;
    readonly stub: StubModel;
    /** The stub model's API key (the red-team check needs it too). */
    readonly apiKey: string;
    /** The BYOK provider base URL as the servers see it. */
    readonly providerBaseUrl: string;
    /** `imageBaseImage`: the debootstrap Debian base in the tests' storage. */
    readonly baseImage: string;
    /** `imageReleaseBaseUrl` for one of the fixture's CLI versions. */
    releaseUrl(cliVersion: string): string;
    /** A stack of this project on the Docker platform, built from the mirror at `cliVersion`. */
    stack(name: string, config: Readonly<Record<string, string>>, cliVersion?: string): EngineStack;
    stop(): Promise<void>;
}

export async function startDockerEngineFixture(cliVersions: readonly string[] = [pinnedCliVersion()]): Promise<DockerEngineFixture> {
    const release = await acquireLock("docker-engine-suite", 40 * 60_000);
    const work = mkdtempSync(path.join(os.tmpdir(), "cf-engine-docker-"));
    const stops: Array<() => Promise<void>> = [];
    const stop = async () => {
        for (const s of stops.reverse()) await s().catch(() => undefined);
        rmSync(work, { recursive: true, force: true });
        release();
    };
    try {
        const files = await Promise.all(cliVersions.map((v) => ensureReleaseFiles(v)));
        const mirror = await startReleaseMirror(
            Object.fromEntries(cliVersions.map((v, i) => [v, { [RELEASE_ASSET_X64]: files[i].tarball, "SHA256SUMS.txt": Buffer.from(files[i].sums) }])),
        );
        stops.push(() => mirror.stop());
        const baseImage = (await ensureBaseImage()).ref;
        await ensureStandInImages();
        const service = await startPodmanService(work);
        stops.push(() => service.stop());
        const apiKey = randomBytes(16).toString("hex");
        const stub = await startStubModel({ host: "0.0.0.0", apiKey });
        stops.push(() => stub.stop());
        const providerBaseUrl = `http://host.containers.internal:${stub.port}/v1`;
        return {
            service,
            stub,
            apiKey,
            providerBaseUrl,
            baseImage,
            releaseUrl: (v) => mirror.url(v),
            stack: (name, config, cliVersion = pinnedCliVersion()) =>
                new EngineStack({
                    stack: name,
                    env: { DOCKER_HOST: service.dockerHost },
                    config: {
                        "copilot-fleet:platform": "docker",
                        "copilot-fleet:cliVersion": cliVersion,
                        "copilot-fleet:imageBaseImage": baseImage,
                        "copilot-fleet:imageReleaseBaseUrl": mirror.url(cliVersion),
                        ...config,
                    },
                    secrets: { "copilot-fleet:provider": JSON.stringify({ type: "openai", baseUrl: providerBaseUrl, model: stub.model, apiKey }) },
                }),
            stop,
        };
    } catch (e) {
        await stop();
        throw e;
    }
}
