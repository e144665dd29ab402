import { execFile } from "child_process";
import { promisify } from "util";
import { describe, expect, it } from "vitest";
import { runProgramUnderTsNode as runProgram } from "../../helpers/deployUnderMocks";
import type { ChildResult } from "../../../scripts/bench-users";
import { watchModuleLoads } from "../../../scripts/bench-users";

const run = promisify(execFile);

describe("index.ts with mode per-user on Kubernetes", () => {
    it("registers the per-user fleet and outputs each user's endpoint, token and selector", async () => {
        const result = await runProgram({
            platform: "kubernetes",
            mode: "per-user",
            users: '["alice",{"id":"bob","suspended":true}]',
            githubToken: "gho_x",
            image: "registry.example.com/copilot-cli:1.0.102",
        });
        expect(result.error).toBeUndefined();
        const types = result.resources.map((r) => r.type);
        expect(types).toContain("copilot-fleet:index:PerUserFleet");
        expect(types.filter((t) => t === "copilot-fleet:index:UserServer")).toHaveLength(2);
        expect(types.filter((t) => t === "kubernetes:apps/v1:Deployment")).toHaveLength(2);
        expect(types).not.toContain("copilot-fleet:index:SharedFleet");
        expect(result.outputs).toMatchObject({ platform: "kubernetes", mode: "per-user", namespace: "copilot-fleet", port: 4321 });
        const users = result.outputs?.users as Record<string, { endpoint: string; connectionToken: string; suspended: boolean }>;
        expect(users.alice.endpoint).toBe("copilot-u-alice.copilot-fleet.svc.cluster.local:4321");
        expect(users.bob.suspended).toBe(true);
        expect(users.alice.connectionToken).not.toBe(users.bob.connectionToken);
    }, 120_000);
});

describe("what a Kubernetes-only stack loads", () => {
    it("the module watch sees a request for azure-native even when it fails (so a clean report means something)", () => {
        const watch = watchModuleLoads();
        try {
            // Installed since the ACI platform landed, so the load succeeds; the request is what is watched.
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS load is exactly what is being watched
            expect(require("@pulumi/azure-native/containerinstance")).toHaveProperty("ContainerGroup");
            expect(watch.azureNativeRequests).toEqual(["@pulumi/azure-native/containerinstance"]);
        } finally {
            watch.restore();
        }
    });

    it("evaluating the per-user program never requests or loads @pulumi/azure-native (bench child, 10 users)", async () => {
        const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/bench-users.ts", "--child", "10"], {
            env: { ...process.env, TS_NODE_PROJECT: "tsconfig.json" },
            timeout: 120_000,
        });
        const line = stdout.split("\n").find((l) => l.startsWith("BENCH ")) ?? "";
        const r = JSON.parse(line.slice(6)) as ChildResult;
        expect(r.resources).toBe(3 + 10 * 7);
        expect(r.outputUsers).toBe(10);
        expect(r.pulumiPackages).toContain("kubernetes");
        expect(r.pulumiPackages).not.toContain("azure-native");
        expect(r.azureNativeRequests).toEqual([]);
        expect(r.azureNativeFiles).toEqual([]);
    }, 120_000);
});
