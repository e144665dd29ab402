/**
 * Owned session ids against the real Copilot CLI (offline, BYOK stub model on loopback): the CLI accepts
 * them as custom ids, they persist after a turn, show up in listSessions, and resume with history;
 * a look-alike user is refused before anything reaches the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import { startStubModel, type StubModel } from "../../smoke/local/stub-model";
import { freePort } from "../../smoke/local/redis";
import { ownedSessionId, resumeOwnedSession, SessionOwnershipError, sessionsOwnedBy } from "@copilot-fleet/client";
import { ENV } from "../../components/contract/server";

const CLI = path.join(__dirname, "..", "..", "node_modules", "@github", "copilot-linux-x64", "copilot");

let home: string;
let stub: StubModel;
let cli: ChildProcess | undefined;
let client: CopilotClient | undefined;
let cliLog = "";

async function stopCli(): Promise<void> {
    const c = cli;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(t);
}

beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "copilot-fleet-owned-"));
    stub = await startStubModel();
    const port = await freePort();
    const token = `t-${process.pid}-${Date.now()}`;
    cli = spawn(CLI, ["--headless", "--port", String(port), "--no-auto-update"], {
        env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: home,
            [ENV.connectionToken]: token,
            [ENV.offline]: "true",
            [ENV.providerBaseUrl]: stub.baseUrl,
            [ENV.providerType]: "openai",
            [ENV.model]: stub.model,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    cli.stdout?.on("data", (d: Buffer) => (cliLog += d.toString()));
    cli.stderr?.on("data", (d: Buffer) => (cliLog += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!client) {
        const c = new CopilotClient({ connection: RuntimeConnection.forUri(`127.0.0.1:${port}`, { connectionToken: token }) });
        try {
            await c.start();
            client = c;
        } catch (e) {
            await c.forceStop().catch(() => undefined);
            if (Date.now() > deadline || cli.exitCode !== null) throw new Error(`CLI did not come up: ${String(e)}\n${cliLog}`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
}, 60_000);

afterAll(async () => {
    if (client) {
        for (const s of await client.listSessions().catch(() => [])) await client.deleteSession(s.sessionId).catch(() => undefined);
        await client.stop().catch(() => undefined);
    }
    await stopCli();
    await stub?.stop();
    if (home) await rm(home, { recursive: true, force: true });
});

describe("owned session ids on the real CLI", () => {
    it("create with ownedSessionId → turn → listSessions → resumeOwnedSession keeps history; a look-alike user is refused", async () => {
        const c = client;
        if (!c) throw new Error("no client");
        const provider = { type: "openai" as const, baseUrl: stub.baseUrl };
        const id = ownedSessionId("alice");
        const s = await c.createSession({ sessionId: id, provider, model: stub.model, onPermissionRequest: approveAll });
        expect(s.sessionId).toBe(id);
        const reply = await s.sendAndWait({ prompt: "first turn for alice" }, 30_000);
        expect(reply?.data.content).toContain("first turn for alice");
        await s.disconnect();

        const listed = await c.listSessions();
        expect(sessionsOwnedBy(listed, "alice").map((m) => m.sessionId)).toEqual([id]);
        expect(sessionsOwnedBy(listed, "alice:x")).toEqual([]);
        expect(await readdir(path.join(home, ".copilot", "session-state"))).toContain(id);

        const before = stub.chatRequests().length;
        await expect(
            resumeOwnedSession(c, "alice:x", id, { provider, model: stub.model, onPermissionRequest: approveAll }),
        ).rejects.toBeInstanceOf(SessionOwnershipError);

        const r = await resumeOwnedSession(c, "alice", id, { provider, model: stub.model, onPermissionRequest: approveAll });
        const events = await r.getEvents();
        const prompts = events.flatMap((e) => (e.type === "user.message" ? [e.data.content] : []));
        expect(prompts).toEqual(["first turn for alice"]);
        const second = await r.sendAndWait({ prompt: "second turn" }, 30_000);
        expect(second?.data.content).toContain("second turn");
        // The refused resume sent nothing; the second turn carried the first turn's history to the model.
        const reqs = stub.chatRequests().slice(before);
        expect(reqs.length).toBeGreaterThanOrEqual(1);
        const last = reqs[reqs.length - 1];
        expect(last?.messages?.some((m) => m.role === "user" && m.content.includes("first turn for alice"))).toBe(true);
        await r.disconnect();
        await c.deleteSession(id);
        expect((await c.listSessions()).some((m) => m.sessionId === id)).toBe(false);
    }, 60_000);
});
