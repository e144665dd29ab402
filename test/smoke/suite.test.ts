/**
 * The smoke suite against real local fleets: it passes on a healthy shared and per-user fleet, and
 * fails (non-zero exit from the CLI) when something is wrong.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSmokeSuite, type SmokeReport } from "../../smoke/checks";
import { startLocalFleet, writeOutputsFile, type LocalFleet } from "../../smoke/local-fleet";

function runCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
    return new Promise((resolve) => {
        execFile(
            process.execPath,
            [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "smoke/cli.ts", ...args],
            { cwd: path.resolve(__dirname, "../.."), timeout: 120_000 },
            (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
    });
}

const names = (r: SmokeReport, status: string): string[] => r.results.filter((x) => x.status === status).map((x) => x.name);

describe("smoke suite on a shared local fleet", () => {
    let fleet: LocalFleet;
    let tmp: string;
    beforeAll(async () => {
        fleet = await startLocalFleet({ replicas: 2 });
        tmp = mkdtempSync(path.join(os.tmpdir(), "smoke-test-"));
    });
    afterAll(async () => {
        await fleet?.stop();
        if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it("passes every check and deletes what it created", async () => {
        const report = await runSmokeSuite(fleet.outputs);
        expect(names(report, "FAIL")).toEqual([]);
        expect(names(report, "SKIP")).toEqual([]);
        expect(names(report, "PASS")).toEqual(
            expect.arrayContaining(["ping replica-0", "ping replica-1", "ping load-balancer", "cross-replica resume", "session lock serialises writers", "cleanup deletes created sessions"]),
        );
        // The red-team ran for real: nothing leaked with tenantSessionConfig, nor with plain approveAll,
        // because the servers run the tool guard (test/smoke/redteam.test.ts keeps the unguarded control).
        const rt = report.results.find((x) => x.name === "red-team: tenantSessionConfig keeps tenants apart");
        expect(rt?.status).toBe("PASS");
        expect(rt?.reason).toMatch(/^0 of \d+ attempts leaked/);
        const baseline = report.results.find((x) => x.name === "red-team: plain approveAll (documents the hazard)");
        expect(baseline?.status).toBe("PASS");
        expect(baseline?.reason).toMatch(/^approveAll leaked none of \d+: the servers confine tools themselves$/);
        expect(report.sessionsCreated.length).toBeGreaterThanOrEqual(2);
        expect([...report.sessionsDeleted].sort()).toEqual([...report.sessionsCreated].sort());
        expect(report.ok).toBe(true);
    }, 180_000);

    it("the CLI exits 0 on a good outputs file and writes a JSON report", async () => {
        const file = path.join(tmp, "good.json");
        writeOutputsFile(file, fleet.outputs);
        const { code, stdout } = await runCli(["--outputs", file, "--json", path.join(tmp, "report.json")]);
        expect(stdout).toMatch(/^PASS cross-replica resume \(\d+ ms\)/m);
        expect(code).toBe(0);
    }, 120_000);

    it("the CLI exits non-zero when the token in the outputs is wrong", async () => {
        const file = path.join(tmp, "bad.json");
        writeOutputsFile(file, { ...fleet.outputs, connectionToken: "not-the-token" });
        const { code, stdout } = await runCli(["--outputs", file]);
        expect(stdout).toMatch(/^FAIL ping replica-0 \(\d+ ms\): .*AUTHENTICATION_FAILED/m);
        expect(stdout).toMatch(/^FAILED:/m);
        expect(code).toBe(1);
    }, 120_000);
});

describe("smoke suite on a per-user local fleet", () => {
    let fleet: LocalFleet;
    beforeAll(async () => {
        fleet = await startLocalFleet({ mode: "per-user", users: ["alice", "bob"] });
    });
    afterAll(async () => {
        await fleet?.stop();
    });

    it("each user's server accepts its own token and refuses the other's", async () => {
        const users = fleet.outputs.users ?? {};
        expect(users.alice.connectionToken).not.toEqual(users.bob.connectionToken);
        const report = await runSmokeSuite(fleet.outputs);
        expect(names(report, "FAIL")).toEqual([]);
        expect(names(report, "PASS")).toEqual(
            expect.arrayContaining(["ping user alice", "ping user bob", "user alice refuses other tokens", "user bob refuses other tokens"]),
        );
    }, 60_000);

    it("fails when two users are given the same token", async () => {
        const users = fleet.outputs.users ?? {};
        const broken = { ...fleet.outputs, users: { ...users, bob: { ...users.bob, connectionToken: users.alice.connectionToken } } };
        const report = await runSmokeSuite(broken);
        expect(report.ok).toBe(false);
        expect(names(report, "FAIL")).toContain("ping user bob");
    }, 60_000);
});
