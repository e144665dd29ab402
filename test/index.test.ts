import { describe, expect, it } from "vitest";
import { runProgramUnderTsNode as runProgram } from "./helpers/deployUnderMocks";

describe("index.ts under ts-node (CommonJS), as pulumi up runs it", () => {
    it("reads stack config and registers the shared Kubernetes fleet", async () => {
        const result = await runProgram({
            platform: "kubernetes",
            replicas: "3",
            githubToken: "gho_x",
            image: "registry.example.com/copilot-cli:1.0.102",
        });
        expect(result.error).toBeUndefined();
        const types = result.resources.map((r) => r.type);
        expect(types).toContain("copilot-fleet:index:SharedFleet");
        expect(types.filter((t) => t === "kubernetes:apps/v1:Deployment")).toHaveLength(2);
        expect(result.outputs).toMatchObject({ platform: "kubernetes", mode: "shared", endpoint: "copilot.copilot-fleet.svc.cluster.local:4321" });
    }, 120_000);

    it("reads secret keys as secrets: no 'use getSecret' warning, and a config mistake around them shows no value", async () => {
        const result = await runProgram({
            platform: "kubernetes",
            mode: "per-user",
            users: JSON.stringify([{ id: "alice", githubToken: "ghp_SENTINEL123" }, { id: "bob", githubToken: 7 }]),
            githubToken: "gho_x",
            connectionToken: "c".repeat(32),
            image: "registry.example.com/copilot-cli:1.0.102",
        });
        expect(result.warnings).toEqual([]);
        expect(result.error).toContain('users[1].githubToken (user "bob") is a number');
        expect(result.error).toContain("connectionToken: is set, but per-user mode generates one token per user");
        expect(JSON.stringify(result)).not.toContain("SENTINEL");
        expect(result.resources).toEqual([]);
    }, 120_000);

    it("stops on a config mistake before any resource is registered", async () => {
        const result = await runProgram({ platform: "kubernetes", replicas: "0", githubToken: "gho_x", image: "registry.example.com/copilot-cli:1.0.102" });
        expect(result.error).toContain('replicas: "0" is not accepted; use an integer from 1 to 50');
        expect(result.resources).toEqual([]);
    }, 120_000);
});
