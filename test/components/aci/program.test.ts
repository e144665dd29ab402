import { execFile } from "child_process";
import { promisify } from "util";
import { describe, expect, it } from "vitest";
import { runProgramUnderTsNode } from "../../helpers/deployUnderMocks";

interface Loads {
    types: string[];
    pulumiPackages: string[];
    azureNativeRequests: string[];
}

async function loads(config: Record<string, string>): Promise<Loads> {
    const { stdout } = await promisify(execFile)(process.execPath, ["-r", "ts-node/register/transpile-only", "test/components/aci/fixtures/moduleLoads.ts"], {
        env: { ...process.env, TS_NODE_PROJECT: "tsconfig.json", COPILOT_FLEET_TEST_CONFIG: JSON.stringify(config) },
        timeout: 120_000,
    });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "") as Loads;
}

describe("index.ts on platform aci, loaded the way `pulumi up` loads it", () => {
    it("type-checks under ts-node (CommonJS) and registers the shared fleet with its outputs", async () => {
        const result = await runProgramUnderTsNode({ platform: "aci", replicas: "3", githubToken: "gho_x", image: "ghcr.io/example/copilot-cli:1.0.102" });
        expect(result.error).toBeUndefined();
        expect(result.resources.filter((r) => r.type === "azure-native:containerinstance:ContainerGroup").map((r) => r.name).sort()).toEqual([
            "copilot-1",
            "copilot-2",
            "copilot-3",
            "copilot-lb",
            "copilot-redis",
        ]);
        expect(result.outputs).toMatchObject({ platform: "aci", mode: "shared", endpoint: expect.stringMatching(/^10\.42\.0\.\d+:4321$/) });
    }, 180_000);

    it("an ACI stack loads only the azure-native submodules it imports, never the package root", async () => {
        const r = await loads({ platform: "aci", githubToken: "gho_x", image: "ghcr.io/example/copilot-cli:1.0.102" });
        expect(r.types).toContain("azure-native:containerinstance:ContainerGroup");
        expect(r.azureNativeRequests.length).toBeGreaterThan(0);
        expect(r.azureNativeRequests.filter((m) => m === "@pulumi/azure-native")).toEqual([]);
    }, 120_000);

    it("a docker stack never requests @pulumi/azure-native", async () => {
        const r = await loads({ platform: "docker", githubToken: "gho_x", replicas: "2" });
        expect(r.types).toContain("docker:index/container:Container");
        expect(r.pulumiPackages).toContain("docker");
        expect(r.pulumiPackages).not.toContain("azure-native");
        expect(r.azureNativeRequests).toEqual([]);
    }, 120_000);
});
