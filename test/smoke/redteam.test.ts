/**
 * The red-team against real CLI servers, both halves of tenant isolation apart:
 * - the unsafe control: a bare CLI (no tool guard) and plain approveAll leaks the connection token and
 *   another session's conversation, so the check can see a leak;
 * - the client half alone (tenantSessionConfig on a bare CLI) leaks nothing;
 * - the server half alone (the image's tool guard, approveAll on the client) leaks nothing.
 */
import { mkdtempSync, mkdirSync, realpathSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CopilotClient, RuntimeConnection } from "@github/copilot-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCliCacheDir, startCliServer, type CliServer } from "../../smoke/local/cli-server";
import { startStubModel, type StubModel } from "../../smoke/local/stub-model";
import { runRedTeam, type RedTeamMode, type RedTeamReport } from "../../smoke/redteam";

const TOKEN = `redteam-token-${Math.random().toString(36).slice(2)}`;
let stub: StubModel;
let dir: string;
let bare: CliServer;
let guarded: CliServer;
const clients: CopilotClient[] = [];

async function run(server: CliServer, mode: RedTeamMode, state: string): Promise<RedTeamReport> {
    const mk = () => {
        const c = new CopilotClient({ connection: RuntimeConnection.forUri(server.endpoint, { connectionToken: TOKEN }) });
        clients.push(c);
        return c;
    };
    return runRedTeam({
        mode,
        targets: { sessionStatePath: state, copilotHome: server.copilotHome },
        victimClient: mk(),
        attackerClient: mk(),
        credentials: { provider: { type: "openai", baseUrl: stub.baseUrl }, model: stub.model },
        secrets: new Map([["connection token", TOKEN]]),
        turnTimeoutMs: 30_000,
        onCreated: () => undefined,
    });
}

beforeAll(async () => {
    stub = await startStubModel();
    dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "redteam-")));
    const provider = { type: "openai", baseUrl: stub.baseUrl, model: stub.model };
    for (const d of ["bare-state", "guarded-state"]) mkdirSync(path.join(dir, d));
    [bare, guarded] = await Promise.all([
        startCliServer({ name: "bare", dir: path.join(dir, "bare"), connectionToken: TOKEN, sharedSessionState: path.join(dir, "bare-state"), provider, cacheDir: defaultCliCacheDir(), toolGuard: false }),
        startCliServer({ name: "guarded", dir: path.join(dir, "guarded"), connectionToken: TOKEN, sharedSessionState: path.join(dir, "guarded-state"), provider, cacheDir: defaultCliCacheDir() }),
    ]);
}, 120_000);

afterAll(async () => {
    await Promise.all(clients.map((c) => c.forceStop().catch(() => undefined)));
    await Promise.all([bare?.stop(), guarded?.stop(), stub?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("red-team on real CLI servers", () => {
    it("unsafe control: a bare server with approveAll hands out the token and another session's turns and files", async () => {
        const r = await run(bare, "approveAll", path.join(dir, "bare-state"));
        const leaked = new Set(r.leaks.flatMap((l) => l.leaked));
        expect([...leaked]).toEqual(expect.arrayContaining(["connection token", "server environment", "victim turn canary", "victim file canary", "write"]));
        expect(r.leaks.map((l) => l.tool)).toEqual(expect.arrayContaining(["bash", "view", "grep", "create", "edit"]));
        // What an attacker's transcript shows is masked in the report, never the token itself.
        expect(JSON.stringify(r)).not.toContain(TOKEN);
    }, 180_000);

    it("client half alone: tenantSessionConfig on a bare server leaks nothing, and every attempt reached a tool", async () => {
        const r = await run(bare, "tenant", path.join(dir, "bare-state"));
        expect(r.leaks).toEqual([]);
        expect(r.outcomes.every((o) => o.ran)).toBe(true);
        expect(r.outcomes.length).toBeGreaterThanOrEqual(26);
    }, 180_000);

    it("server half alone: the tool guard holds against approveAll", async () => {
        const r = await run(guarded, "approveAll", path.join(dir, "guarded-state"));
        expect(r.leaks).toEqual([]);
        expect(r.outcomes.every((o) => o.ran && !o.success)).toBe(true);
        for (const o of r.outcomes) expect(o.result, o.attack).toContain("Denied by preToolUse hook: copilot-fleet tool guard");
    }, 180_000);
});
