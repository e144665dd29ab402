/**
 * Per-session GitHub tokens on real Copilot CLI 1.0.102 servers that hold no model credential
 * (`credentials: "perSession"`). GitHub is unreachable here, so the servers resolve tokens against a
 * fake GitHub API on loopback (smoke/local/fake-github.ts, through the CLI's
 * COPILOT_DEBUG_GITHUB_API_URL); one test uses the real default URL and only sees the attempt fail.
 * What this proves: the plumbing (which token goes where, what is persisted, what a resume needs).
 * What it cannot: that GitHub accepts a given token, seat and plan checks, quotas, content exclusion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync, mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import { runSmokeSuite } from "../../smoke/checks";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";
import { defaultCliCacheDir, startCliServer, type CliServer } from "../../smoke/local/cli-server";
import { GITHUB_API_URL_ENV, startFakeGitHub, type FakeGitHub } from "../../smoke/local/fake-github";

const ALICE = "ghu_fake-alice-token-not-real-0123";
const BOB = "ghu_fake-bob-token-not-real-45678";
const NO_TOKEN = "Execution failed: InvalidArg, No GitHub OAuth token or Copilot HMAC key provided";

/** Every regular file under `dir` that contains `needle` (binary-safe: SQLite files and WAL included). */
function filesContaining(dir: string, needle: string): string[] {
    const hits: string[] = [];
    const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile() && statSync(p).size < 64 * 1024 * 1024 && readFileSync(p).includes(needle)) hits.push(p);
        }
    };
    walk(dir);
    return hits;
}

const environOf = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);

describe("per-session GitHub tokens on a local fleet with no model credential", () => {
    let fleet: LocalFleet;
    const clients: CopilotClient[] = [];
    const connect = (endpoint: string): CopilotClient => {
        const c = new CopilotClient({ connection: RuntimeConnection.forUri(endpoint, { connectionToken: fleet.outputs.connectionToken as string }) });
        clients.push(c);
        return c;
    };

    beforeAll(async () => {
        fleet = await startLocalFleet({ replicas: 2, credentials: "perSession", gitHubUsers: { [ALICE]: "alice", [BOB]: "bob" } });
    }, 120_000);
    afterAll(async () => {
        await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
        await fleet?.stop();
    });

    it("servers hold no GitHub token and no BYOK setting; outputs say perSession", () => {
        expect(fleet.outputs.credentials).toBe("perSession");
        expect(fleet.outputs.provider).toBeUndefined();
        for (const s of fleet.servers.values()) {
            const names = environOf(s.pid).map((kv) => kv.split("=")[0]);
            expect(names.filter((n) => /^(COPILOT_GITHUB_TOKEN|GH_TOKEN|GITHUB_TOKEN|COPILOT_PROVIDER_.*|COPILOT_OFFLINE)$/.test(n))).toEqual([]);
            expect(names).toContain("COPILOT_CONNECTION_TOKEN");
        }
    });

    it("smoke suite without a token: model-turn checks SKIP with the reason, nothing FAILs", async () => {
        const report = await runSmokeSuite(fleet.outputs);
        const skipped = report.results.filter((r) => r.status === "SKIP");
        expect(skipped.map((r) => r.name)).toEqual([
            "cross-replica resume",
            "session lock serialises writers",
            "red-team: tenantSessionConfig keeps tenants apart",
            "red-team: plain approveAll (documents the hazard)",
        ]);
        for (const r of skipped.slice(0, 2)) expect(r.reason).toBe('outputs say credentials "perSession" and no GitHub token was given (set SMOKE_GITHUB_TOKEN to a user\'s token)');
        for (const r of skipped.slice(2)) expect(r.reason).toMatch(/SMOKE_GITHUB_TOKEN on a perSession fleet$/);
        expect(report.results.filter((r) => r.status === "FAIL")).toEqual([]);
        expect(report.sessionsCreated).toEqual([]);
    }, 120_000);

    it("smoke suite with a user's token passes every check; GitHub and the model API see that token", async () => {
        const before = fleet.stub.requests.length;
        const report = await runSmokeSuite(fleet.outputs, { gitHubToken: ALICE });
        expect(report.results.filter((r) => r.status !== "PASS")).toEqual([]);
        expect(report.results.map((r) => r.name)).toEqual(expect.arrayContaining(["cross-replica resume", "session lock serialises writers"]));
        expect(fleet.github?.requests).toEqual(expect.arrayContaining([{ method: "GET", path: "/copilot_internal/user", authorization: `Bearer ${ALICE}` }]));
        const chats = fleet.stub.chatRequests().filter((r) => fleet.stub.requests.indexOf(r) >= before);
        expect(chats.length).toBeGreaterThanOrEqual(4);
        expect(new Set(chats.map((r) => r.authorization))).toEqual(new Set([`Bearer ${ALICE}`]));
    }, 180_000);

    it("create without a token succeeds but its turn fails; an unknown token is refused at create", async () => {
        const c = connect(fleet.server("replica-0").endpoint);
        const s = await c.createSession({ onPermissionRequest: approveAll });
        await expect(s.sendAndWait({ prompt: "no token" }, 30_000)).rejects.toThrow(NO_TOKEN);
        await s.disconnect();
        await c.deleteSession(s.sessionId).catch(() => undefined);
        await expect(c.createSession({ onPermissionRequest: approveAll, gitHubToken: "ghu_notAUser" })).rejects.toThrow(
            'Request session.create failed with message: GitHub token validation failed: Failed to fetch Copilot user info: 401 Unauthorized: {"message":"Bad credentials"}',
        );
    }, 60_000);

    it("the token is not persisted: a resume elsewhere needs one again, any valid token resumes, none is on disk", async () => {
        const prompt = `per-session ${Date.now()}`;
        const a = connect(fleet.server("replica-0").endpoint);
        const s = await a.createSession({ onPermissionRequest: approveAll, gitHubToken: ALICE });
        expect((await s.sendAndWait({ prompt }, 30_000))?.data.content).toMatch(/^stub reply/);
        await s.disconnect();

        const b = connect(fleet.server("replica-1").endpoint);
        const bare = await b.resumeSession(s.sessionId, { onPermissionRequest: approveAll });
        await expect(bare.sendAndWait({ prompt: "resumed without a token" }, 30_000)).rejects.toThrow(NO_TOKEN);
        await bare.disconnect();

        // The session is not bound to the identity that created it: ownership is the application's check.
        const before = fleet.stub.requests.length;
        const asBob = await b.resumeSession(s.sessionId, { onPermissionRequest: approveAll, gitHubToken: BOB });
        expect((await asBob.sendAndWait({ prompt: "resumed with another user's token" }, 30_000))?.data.content).toMatch(/^stub reply/);
        await asBob.disconnect();
        const bobChats = fleet.stub.chatRequests().filter((r) => fleet.stub.requests.indexOf(r) >= before);
        expect(bobChats.map((r) => r.authorization)).toEqual([`Bearer ${BOB}`]);

        // Every replica's COPILOT_HOME (session-store.db + WAL, logs, config) and the shared session state.
        expect(filesContaining(fleet.dir, prompt).length).toBeGreaterThan(0); // the scan does read what is persisted
        expect(filesContaining(fleet.dir, ALICE)).toEqual([]);
        expect(filesContaining(fleet.dir, BOB)).toEqual([]);
        await b.deleteSession(s.sessionId);
    }, 90_000);
});

/** A model API that asks for one `bash` call (writing the tool's environment to a file), then answers. */
async function startToolCallingModel(envFile: string): Promise<{ url: string; stop(): Promise<void> }> {
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
            const p = (req.url ?? "").split("?")[0];
            res.setHeader("content-type", "application/json");
            if (p === "/models") {
                res.end(JSON.stringify({ object: "list", data: [{ id: "stub-model", object: "model", created: 1, owned_by: "stub" }] }));
                return;
            }
            if (p !== "/chat/completions") {
                res.writeHead(404).end("{}");
                return;
            }
            const sawTool = (JSON.parse(body) as { messages: { role: string }[] }).messages.some((m) => m.role === "tool");
            const message = sawTool
                ? { role: "assistant", content: "done" }
                : { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "bash", arguments: JSON.stringify({ command: `env > ${envFile}`, description: "env", mode: "sync", initial_wait: 10 }) } }] };
            res.end(JSON.stringify({ id: "c", object: "chat.completion", created: 1, model: "stub-model", choices: [{ index: 0, message, finish_reason: sawTool ? "stop" : "tool_calls" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("per-session tokens and the agent's tools (one server, tool-calling model)", () => {
    let dir: string;
    let model: { url: string; stop(): Promise<void> };
    let github: FakeGitHub;
    let server: CliServer;
    let client: CopilotClient;
    const token = `conn-${process.pid}-${Date.now()}-abcdef`;

    beforeAll(async () => {
        dir = mkdtempSync(path.join(os.tmpdir(), "copilot-per-session-"));
        model = await startToolCallingModel(path.join(dir, "tool-env.txt"));
        github = await startFakeGitHub({ modelApiUrl: model.url, users: { [ALICE]: "alice" } });
        // A bare CLI (no tool guard, which refuses bash): the point is what a shell would inherit if one ran.
        server = await startCliServer({
            name: "tools",
            dir: path.join(dir, "server"),
            connectionToken: token,
            cacheDir: defaultCliCacheDir(),
            extraEnv: { [GITHUB_API_URL_ENV]: github.url },
            toolGuard: false,
        });
        client = new CopilotClient({ connection: RuntimeConnection.forUri(server.endpoint, { connectionToken: token }) });
    }, 120_000);
    afterAll(async () => {
        await client?.stop().catch(() => undefined);
        await server?.stop();
        await github?.stop();
        await model?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("the bash tool runs with no GitHub token in its environment", async () => {
        const s = await client.createSession({ onPermissionRequest: approveAll, gitHubToken: ALICE, workingDirectory: dir });
        expect((await s.sendAndWait({ prompt: "print your environment" }, 60_000))?.data.content).toBe("done");
        await s.disconnect();
        const env = readFileSync(path.join(dir, "tool-env.txt"), "utf8");
        expect(env).toMatch(/^PATH=/m); // the tool really ran and wrote its environment
        expect(env).not.toContain(ALICE);
        expect(env.split("\n").map((l) => l.split("=")[0]).filter((n) => /^(GH_TOKEN|GITHUB_TOKEN|COPILOT_GITHUB_TOKEN|GH_ENTERPRISE_TOKEN|GITHUB_ENTERPRISE_TOKEN)$/.test(n))).toEqual([]);
        expect(environOf(server.pid).join("\n")).not.toContain(ALICE);
        await client.deleteSession(s.sessionId);
    }, 90_000);
});

describe("per-session token against the real GitHub API URL (unreachable here)", () => {
    let dir: string;
    let server: CliServer;
    let client: CopilotClient;
    const token = `conn-${process.pid}-${Date.now()}-real`;

    beforeAll(async () => {
        dir = mkdtempSync(path.join(os.tmpdir(), "copilot-per-session-real-"));
        server = await startCliServer({ name: "real", dir, connectionToken: token, cacheDir: defaultCliCacheDir() });
        client = new CopilotClient({ connection: RuntimeConnection.forUri(server.endpoint, { connectionToken: token }) });
    }, 120_000);
    afterAll(async () => {
        await client?.stop().catch(() => undefined);
        await server?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("session.create validates the token at api.github.com before anything else, and fails closed", async () => {
        // Here: "network fetch failed: … (https://api.github.com/copilot_internal/user)"; with GitHub reachable a fake token gets 401.
        await expect(client.createSession({ onPermissionRequest: approveAll, gitHubToken: ALICE })).rejects.toThrow(
            /^Request session\.create failed with message: GitHub token validation failed: /,
        );
        expect(await client.listSessions()).toEqual([]);
        expect(filesContaining(dir, ALICE)).toEqual([]);
    }, 60_000);
});
