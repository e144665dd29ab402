/**
 * Does the CLI run under the Kubernetes container securityContext render.ts produces
 * (`readOnlyRootFilesystem: true`) with writable storage ONLY at the mounts render.ts declares?
 *
 * The mounts are read from renderServerContainer/renderServerVolumes, not copied here, so adding or
 * removing one in render.ts changes what this test runs. Each volume becomes a host directory
 * bind-mounted the way kubelet prepares it: an emptyDir is a root-owned 0777 directory, and the pod's
 * fsGroup then makes it group fsGroup with the setgid bit; a claim gets the same group treatment
 * without o+w. (Not `podman --tmpfs`: runc chmods a tmpfs root to the image directory's mode and
 * leaves it root-owned, e.g. root 0755 on ~/.cache, which the CLI user cannot write; Kubernetes
 * emptyDirs are bind mounts and never see that.)
 *
 * Needs root with buildah, podman, runc, debootstrap (as copilot-cli.test.ts). Warm ~1 min on 2 cores.
 */
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import type * as pulumi from "@pulumi/pulumi";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPodSecurityContext, renderServerContainer, renderServerVolumes } from "../../components/kubernetes/render";
import { CLI_CACHE_PATH, CLI_HOME, COPILOT_HOME, ENV, HEALTHCHECK_PATH, SESSION_STATE_PATH, buildServerSpec } from "../../components/contract/server";
import { startStubModel } from "../../smoke/local/stub-model";
import type { StubModel } from "../../smoke/local/stub-model";
import {
    ContainerSession,
    RELEASE_ASSET_X64,
    buildImage,
    ensureBaseImage,
    ensureReleaseFiles,
    freePort,
    pinnedCliVersion,
    podman,
    pruneBuildCache,
    startReleaseMirror,
    waitFor,
} from "../helpers/containers";

const VERSION = pinnedCliVersion();
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;

const spec = buildServerSpec({ credential: { kind: "provider" } });
const container = renderServerContainer(spec, "unused", "unused");
const volumes = renderServerVolumes("claim");
const podSecurity = renderPodSecurityContext(spec);

/** render.ts returns pulumi.Input types; with plain arguments they are plain values (refuse anything else). */
function plain<T>(v: pulumi.Input<T> | undefined, what: string): NonNullable<T> {
    if (v === undefined || v instanceof Promise || (typeof v === "object" && v !== null && "apply" in v)) {
        throw new Error(`${what} is not a plain value in render.ts output`);
    }
    return v as NonNullable<T>;
}

interface Mount {
    readonly mountPath: string;
    readonly kind: "emptyDir" | "claim";
}

/** The writable mounts render.ts gives the CLI container, in its order. */
function renderedMounts(): Mount[] {
    const vols = plain(volumes, "volumes").map((v) => plain(v, "volume"));
    return plain(container.volumeMounts, "volumeMounts").map((raw) => {
        const m = plain(raw, "volumeMount");
        const vol = vols.find((v) => plain(v.name, "volume name") === plain(m.name, "mount name"));
        if (!vol) throw new Error(`volumeMount ${String(m.name)} has no volume`);
        if (vol.emptyDir !== undefined) return { mountPath: plain(m.mountPath, "mountPath"), kind: "emptyDir" };
        if (vol.persistentVolumeClaim !== undefined) return { mountPath: plain(m.mountPath, "mountPath"), kind: "claim" };
        throw new Error(`volume ${String(vol.name)} is neither an emptyDir nor a claim: this test does not know how to provide it`);
    });
}

let session: ContainerSession;
let mirror: Awaited<ReturnType<typeof startReleaseMirror>>;
let stub: StubModel;
let image: string;
let hostRoot: string;
const clients: CopilotClient[] = [];

/** Fresh host directories for one pod's volumes, owned and moded as kubelet leaves them; `-v` args. */
function podVolumes(pod: string, mounts: readonly Mount[]): string[] {
    const fsGroup = plain(podSecurity.fsGroup, "fsGroup");
    return mounts.map((m, i) => {
        const dir = path.join(hostRoot, pod, String(i));
        mkdirSync(dir, { recursive: true });
        chownSync(dir, 0, fsGroup);
        // emptyDir: 0777 from kubelet; fsGroup adds the group and setgid. A claim: fsGroup's g+rwx, setgid.
        chmodSync(dir, m.kind === "emptyDir" ? 0o2777 : 0o2775);
        return `${dir}:${m.mountPath}`;
    });
}

/** The container's args and env as render.ts has them, with the bind moved to 127.0.0.1:port (host network). */
function serverRun(port: number): { args: string[]; env: Record<string, string> } {
    const args = plain(container.args, "args").map((a) => plain(a, "arg"));
    args[args.indexOf("--host") + 1] = "127.0.0.1";
    args[args.indexOf("--port") + 1] = String(port);
    const env: Record<string, string> = {};
    for (const e of spec.env) env[e.name] = e.value;
    Object.assign(env, {
        [ENV.connectionToken]: TOKEN,
        [ENV.offline]: "true",
        [ENV.providerBaseUrl]: stub.baseUrl,
        [ENV.model]: stub.model,
        COPILOT_HEALTHCHECK_PORT: String(port),
    });
    return { args, env };
}

const READ_ONLY = ["--read-only", "--read-only-tmpfs=false"];

async function startServer(name: string, mounts: readonly Mount[], extra: readonly string[]): Promise<{ id: string; port: number; healthyMs: number }> {
    const port = await freePort();
    const { args, env } = serverRun(port);
    const t0 = Date.now();
    const id = await session.start(image, { name, env, volumes: podVolumes(name, mounts), args, extra: [...extra] });
    await waitFor(
        async () => (await session.exec(id, [HEALTHCHECK_PATH])).code === 0,
        60_000,
        250,
        async () => `container ${name} never became healthy; logs:\n${await session.logs(id)}`,
    );
    return { id, port, healthyMs: Date.now() - t0 };
}

async function oneTurn(port: number, prompt: string): Promise<{ sessionId: string; content: string | undefined; ms: number }> {
    const c = new CopilotClient({ connection: RuntimeConnection.forUri(`127.0.0.1:${port}`, { connectionToken: TOKEN }) });
    clients.push(c);
    await c.start();
    const t0 = Date.now();
    const s = await c.createSession({ onPermissionRequest: approveAll, provider: { type: "openai", baseUrl: stub.baseUrl }, model: stub.model });
    const reply = await s.sendAndWait({ prompt }, 60_000);
    const ms = Date.now() - t0;
    await s.disconnect();
    return { sessionId: s.sessionId, content: reply?.data.content, ms };
}

/** `podman diff` paths, sorted. */
async function changedPaths(id: string): Promise<string[]> {
    const r = await podman(["diff", "--format", "json", id]);
    const d = JSON.parse(r.stdout) as { changed?: string[]; added?: string[]; deleted?: string[] };
    return [...(d.changed ?? []).map((p) => `C ${p}`), ...(d.added ?? []).map((p) => `A ${p}`), ...(d.deleted ?? []).map((p) => `D ${p}`)].sort();
}

beforeAll(async () => {
    session = new ContainerSession();
    hostRoot = mkdtempSync(path.join(os.tmpdir(), "cft-readonly-"));
    const [release, stubModel] = await Promise.all([ensureReleaseFiles(), startStubModel()]);
    stub = stubModel;
    mirror = await startReleaseMirror({ good: { [RELEASE_ASSET_X64]: release.tarball, "SHA256SUMS.txt": Buffer.from(release.sums) } });
    const baseImage = (await ensureBaseImage()).ref;
    image = session.trackImage(`localhost/${session.name("image")}:${VERSION}`);
    const built = await buildImage({ tag: image, baseImage, version: VERSION, releaseBaseUrl: mirror.url("good") });
    if (!built.ok) throw new Error(`image build failed:\n${built.output.slice(-4000)}`);
}, 15 * 60_000);

afterAll(async () => {
    await Promise.all(clients.map((c) => c.forceStop().catch(() => undefined)));
    const problems = session ? await session.cleanup() : [];
    await pruneBuildCache();
    await Promise.all([mirror?.stop(), stub?.stop()]);
    if (hostRoot) rmSync(hostRoot, { recursive: true, force: true });
    expect(problems).toEqual([]);
}, 5 * 60_000);

describe("render.ts's pod storage", () => {
    it("is a read-only root with writable mounts at exactly COPILOT_HOME, session-state, the CLI cache and /tmp", () => {
        expect(plain(container.securityContext, "securityContext").readOnlyRootFilesystem).toBe(true);
        expect(renderedMounts()).toEqual([
            { mountPath: COPILOT_HOME, kind: "emptyDir" },
            { mountPath: SESSION_STATE_PATH, kind: "claim" },
            { mountPath: CLI_CACHE_PATH, kind: "emptyDir" },
            { mountPath: "/tmp", kind: "emptyDir" },
        ]);
    });
});

describe("the CLI on a read-only root with only render.ts's mounts", () => {
    let server: { id: string; port: number; healthyMs: number };

    beforeAll(async () => {
        server = await startServer("ro", renderedMounts(), READ_ONLY);
        console.log(`read-only root: healthy ${server.healthyMs} ms after podman run`);
    }, 120_000);

    it("really has a read-only root: the CLI user cannot write $HOME, ~/.config, ~/.local or /var/tmp", async () => {
        for (const p of [`${CLI_HOME}/probe`, `${CLI_HOME}/.config`, `${CLI_HOME}/.local`, "/var/tmp/probe"]) {
            const r = await session.exec(server.id, ["mkdir", p]);
            expect(r.code, p).not.toBe(0);
            expect(r.stderr, p).toMatch(/Read-only file system/);
        }
        const ok = await session.exec(server.id, ["sh", "-c", `touch /tmp/probe ${COPILOT_HOME}/probe ${CLI_CACHE_PATH}/probe && rm /tmp/probe ${COPILOT_HOME}/probe ${CLI_CACHE_PATH}/probe`]);
        expect(ok.stderr).toBe("");
        expect(ok.code).toBe(0);
    });

    it("passes the health check and runs a real model turn; the session lands on the session-state volume", async () => {
        const hc = await session.exec(server.id, [HEALTHCHECK_PATH]);
        expect(hc.stderr).toBe("");
        expect(hc.code).toBe(0);
        const turn = await oneTurn(server.port, "a turn on a read-only root");
        console.log(`read-only root: createSession + one turn ${turn.ms} ms`);
        expect(turn.content).toMatch(/^stub reply #\d+ to ".*a turn on a read-only root/s);
        const events = await session.exec(server.id, ["test", "-s", `${SESSION_STATE_PATH}/${turn.sessionId}/events.jsonl`]);
        expect(events.code).toBe(0);
    }, 90_000);

    it("logs no write refused by the read-only root", async () => {
        const logs = await session.exec(server.id, ["sh", "-c", `cat ${COPILOT_HOME}/logs/*`]);
        expect(logs.code).toBe(0);
        expect(logs.stdout).toMatch(/CLI server listening/);
        expect(logs.stdout + (await session.logs(server.id))).not.toMatch(/EROFS|read-only file system/i);
    });

    it("cannot start without the cache mount (the first-run unpack needs it)", async () => {
        const withoutCache = renderedMounts().filter((m) => m.mountPath !== CLI_CACHE_PATH);
        const port = await freePort();
        const { args, env } = serverRun(port);
        const id = await session.start(image, { name: "nocache", env, volumes: podVolumes("nocache", withoutCache), args, extra: READ_ONLY });
        const wait = await podman(["wait", id], { timeoutMs: 60_000 });
        expect(Number(wait.stdout.trim())).not.toBe(0);
        expect(await session.logs(id)).toContain(`${CLI_CACHE_PATH}/copilot`);
    }, 90_000);
});

describe("the CLI on a writable root with the same mounts", () => {
    it("changes nothing outside the mounts that an idle container of the same image does not", async () => {
        const mounts = renderedMounts();
        const idle = await session.start(image, { name: "idle", volumes: podVolumes("idle", mounts), args: ["sleep", "120"] });
        const server = await startServer("rw", mounts, []);
        const turn = await oneTurn(server.port, "a turn on a writable root");
        expect(turn.content).toMatch(/^stub reply #\d+ to ".*a turn on a writable root/s);
        const [cli, baseline] = await Promise.all([changedPaths(server.id), changedPaths(idle)]);
        // The runtime's own changes (podman touches /etc for hosts/resolv.conf) show up in both.
        expect(cli).toEqual(baseline);
    }, 120_000);
});
