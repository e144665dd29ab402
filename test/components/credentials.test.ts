/**
 * `credentials: "perSession"` as every platform renders it, under mocks: no server, sidecar or secret
 * of the stack holds a GitHub token or a BYOK key, and the outputs tell clients to pass `gitHubToken`.
 * The same scan over a `githubToken` stack finds the service token, so a scan that finds nothing means
 * something.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../components/config";
import { buildServerSpec, ENV, SECRET_KEYS } from "../../components/contract/server";
import { deployUnderMocks } from "../helpers/deployUnderMocks";
import { isKubernetesObject, validateAgainstSchema } from "../helpers/k8sSchema";
import { installMocks, MockRecorder } from "../helpers/pulumiMocks";

const SERVICE_TOKEN = "gho_SERVICE_TOKEN_VALUE";
/** Names and secret keys that would put a model credential on a server (the CLI reads all three token variables). */
const CREDENTIAL_MARKERS = [ENV.githubToken, "GH_TOKEN", "GITHUB_TOKEN", ENV.providerApiKey, ENV.providerBaseUrl, SECRET_KEYS.githubToken, SERVICE_TOKEN];

const PLATFORMS: Record<string, RawConfig> = {
    kubernetes: { platform: "kubernetes", image: "registry.example.com/copilot-cli:1.0.102" },
    docker: { platform: "docker", image: "copilot-cli:1.0.102" },
    aci: { platform: "aci", image: "ghcr.io/example/copilot-cli:1.0.102" },
};
const MODES: Record<string, RawConfig> = {
    shared: { replicas: "2" },
    "per-user": { mode: "per-user", users: '["alice","bob"]' },
};

describe("the server spec with per-session credentials", () => {
    it("holds only the connection token: no GitHub token, no BYOK variable", () => {
        const spec = buildServerSpec({ credential: { kind: "perSession" } });
        expect(spec.secretEnv).toEqual([{ name: ENV.connectionToken, secretKey: SECRET_KEYS.connectionToken }]);
        expect(spec.env.map((e) => e.name)).toEqual([ENV.home, "HOME"]);
        expect(buildServerSpec({ credential: { kind: "githubToken" } }).secretEnv.map((e) => e.name)).toContain(ENV.githubToken);
    });
});

describe("credentials as each platform renders it", () => {
    let rec: MockRecorder;
    beforeAll(() => {
        rec = installMocks();
    });
    beforeEach(() => rec.clear());

    /** Every credential marker found in any resource's inputs, with the resource it was found in. */
    const markersIn = (): string[] =>
        rec.resources.flatMap((r) => {
            const text = JSON.stringify(r.inputs);
            return CREDENTIAL_MARKERS.filter((m) => text.includes(m)).map((m) => `${m} in ${r.type}/${r.name}`);
        });

    for (const [platform, p] of Object.entries(PLATFORMS)) {
        for (const [mode, m] of Object.entries(MODES)) {
            it(`${platform} ${mode}: nothing on any server, outputs say perSession`, async () => {
                const { resolved } = await deployUnderMocks({ ...p, ...m, credentials: "perSession" });
                expect(rec.resources.length).toBeGreaterThan(0);
                expect(markersIn()).toEqual([]);
                expect(resolved.credentials).toBe("perSession");
                expect(resolved.provider).toBeUndefined();
                if (platform === "kubernetes") for (const r of rec.resources.filter(isKubernetesObject)) validateAgainstSchema(r);
            });

            it(`${platform} ${mode}: the same scan finds a service token (control)`, async () => {
                const { resolved } = await deployUnderMocks({ ...p, ...m, githubToken: SERVICE_TOKEN });
                expect(markersIn()).toEqual(expect.arrayContaining([expect.stringContaining(SERVICE_TOKEN)]));
                expect(resolved.credentials).toBe("githubToken");
            });
        }
    }

    it("BYOK stacks say provider", async () => {
        const { resolved } = await deployUnderMocks({ ...PLATFORMS.docker, provider: '{"baseUrl":"https://m.example.com/v1","model":"m"}' });
        expect(resolved.credentials).toBe("provider");
        expect(resolved.provider).toMatchObject({ baseUrl: "https://m.example.com/v1", model: "m" });
    });
});
