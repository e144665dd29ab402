/**
 * Day-2 operations on real CLIs sharing one session-state folder (offline BYOK, stub model):
 *
 * - A rolling CLI upgrade, previous release → current release, one replica at a time, with sessions
 *   moving between versions in both directions during the mixed-version window: no session and no
 *   turn is lost, and the pinned SDK talks to both versions.
 * - Rotating the connection token: a replica restarted with the new token refuses the old one and
 *   resumes every session written under the old one.
 *
 * The previous release comes from npm as the `copilot-cli-previous` alias (package.json). Both share the
 * unpack cache (each unpacks into its own `pkg/<platform>/<version>` folder). Which version answers is
 * asserted through `status.get`: `copilot --version` is not evidence, since it prints the newest
 * version unpacked in the cache, whatever the binary's own version (measured with 1.0.92 and 1.0.102).
 */
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approveAll, type CopilotClient } from "@github/copilot-sdk";
import { assistantReplies, findForks, readEventsFile, userPrompts } from "../../smoke/events";
import { defaultCliCacheDir, startCliServer, type CliServer, type CliServerOptions } from "../../smoke/local/cli-server";
import { startStubModel, type StubModel } from "../../smoke/local/stub-model";
import { probe } from "../../smoke/rpc";
import { ClientPool, turn } from "../helpers/fleet";

const ROOT = path.join(__dirname, "..", "..");
const PLATFORM_PKG = `@github/copilot-${process.platform}-${process.arch}`;

function versionOf(pkgDir: string): string {
    return (JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { version: string }).version;
}

const PREVIOUS_DIR = path.join(ROOT, "node_modules", "copilot-cli-previous");
const PREVIOUS = {
    version: versionOf(PREVIOUS_DIR),
    binary: require.resolve(PLATFORM_PKG, { paths: [PREVIOUS_DIR] }),
};
const CURRENT = {
    version: versionOf(path.join(ROOT, "node_modules", "@github", "copilot")),
    binary: require.resolve(PLATFORM_PKG, { paths: [ROOT] }),
};
type Release = typeof CURRENT;

let dir: string;
let state: string;
let stub: StubModel;
const servers: CliServer[] = [];

function sessionCfg(): Parameters<CopilotClient["createSession"]>[0] & Parameters<CopilotClient["resumeSession"]>[1] {
    return { onPermissionRequest: approveAll, provider: { type: "openai", baseUrl: stub.baseUrl }, model: stub.model };
}

async function start(name: string, release: Release, connectionToken: string): Promise<CliServer> {
    const opts: CliServerOptions = {
        name,
        dir: path.join(dir, name),
        connectionToken,
        sharedSessionState: state,
        provider: { type: "openai", baseUrl: stub.baseUrl, model: stub.model },
        cacheDir: defaultCliCacheDir(),
        binary: release.binary,
        startTimeoutMs: 120_000,
    };
    const s = await startCliServer(opts);
    servers.push(s);
    return s;
}

/** What the orchestrator does to an old pod: wait for clients to finish (drain), then SIGTERM. */
async function retire(s: CliServer): Promise<void> {
    await s.stop();
    expect(s.isRunning()).toBe(false);
}

beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "copilot-fleet-ops-"));
    state = path.join(dir, "shared", "session-state");
    mkdirSync(state, { recursive: true });
    stub = await startStubModel();
}, 60_000);

afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await stub?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("rolling CLI upgrade on one session-state folder", () => {
    it(`previous release → current release, one replica at a time: every session keeps every turn`, async () => {
        expect(PREVIOUS.version).not.toBe(CURRENT.version);
        const token = `ops-${process.pid}-${Date.now()}`;
        const pool = new ClientPool(token);
        try {
            // Before: two replicas on the previous release. Four sessions with one turn each.
            const old0 = await start("old-0", PREVIOUS, token);
            const old1 = await start("old-1", PREVIOUS, token);
            const c0 = pool.client(old0.endpoint);
            await c0.start();
            const oldStatus = await c0.getStatus();
            expect(oldStatus.version).toBe(PREVIOUS.version);

            const history = new Map<string, string[]>();
            const say = async (c: CopilotClient, id: string, prompt: string): Promise<void> => {
                const s = await c.resumeSession(id, sessionCfg());
                await turn(s, prompt);
                await s.disconnect();
                history.get(id)?.push(prompt);
            };
            for (let i = 0; i < 4; i++) {
                const s = await pool.client(i % 2 === 0 ? old0.endpoint : old1.endpoint).createSession(sessionCfg());
                await turn(s, `before upgrade ${i}`);
                await s.disconnect();
                history.set(s.sessionId, [`before upgrade ${i}`]);
            }
            const ids = [...history.keys()];

            // Roll replica 0: the new one is up and healthy before the old one goes (maxUnavailable 0).
            const new0 = await start("new-0", CURRENT, token);
            const n0 = pool.client(new0.endpoint);
            await n0.start();
            const newStatus = await n0.getStatus();
            expect(newStatus.version).toBe(CURRENT.version);
            // The pinned SDK negotiated with both; the protocol must not have moved under us silently.
            expect(newStatus.protocolVersion).toBe(oldStatus.protocolVersion);
            await retire(old0);

            // Mixed-version window: sessions written by the new CLI resume on the old one and back.
            for (const id of ids) await say(n0, id, `on ${CURRENT.version} ${id.slice(0, 6)}`);
            const o1 = pool.client(old1.endpoint);
            for (const id of ids) await say(o1, id, `back on ${PREVIOUS.version} ${id.slice(0, 6)}`);
            const fresh = await n0.createSession(sessionCfg());
            await turn(fresh, "born on the new release");
            await fresh.disconnect();
            history.set(fresh.sessionId, ["born on the new release"]);
            await say(o1, fresh.sessionId, "seen by the old release");

            // Roll replica 1.
            const new1 = await start("new-1", CURRENT, token);
            await retire(old1);
            const n1 = pool.client(new1.endpoint);
            for (const [id] of history) await say(n1, id, `after upgrade ${id.slice(0, 6)}`);

            // After: every session is listed, and its history on disk and through the API holds every
            // prompt in order, each answered, with no fork.
            const listed = new Set((await n1.listSessions()).map((s) => s.sessionId));
            for (const [id, prompts] of history) {
                expect(listed.has(id), id).toBe(true);
                const onDisk = readEventsFile(state, id);
                expect(userPrompts(onDisk)).toEqual(prompts);
                expect(assistantReplies(onDisk)).toHaveLength(prompts.length);
                expect(findForks(onDisk)).toEqual([]);
            }
            // The last model request carried the whole conversation: the new CLI read the old one's turns.
            const sent = (stub.chatRequests().at(-1)?.messages ?? []).filter((m) => m.role === "user").map((m) => m.content);
            const lastId = [...history.keys()].at(-1) as string;
            for (const p of history.get(lastId) ?? []) expect(sent.some((m) => m.includes(p)), p).toBe(true);
        } finally {
            await pool.stopAll();
        }
    }, 300_000);
});

describe("connection-token rotation", () => {
    it("a replica restarted with the new token refuses the old one and resumes sessions written under it", async () => {
        const oldToken = `rot-old-${process.pid}-${Date.now()}`;
        const newToken = `rot-new-${process.pid}-${Date.now()}`;
        const before = new ClientPool(oldToken);
        const after = new ClientPool(newToken);
        try {
            const a = await start("rot-a", CURRENT, oldToken);
            const s = await before.client(a.endpoint).createSession(sessionCfg());
            await turn(s, "written under the old token");
            await s.disconnect();
            // The rollout: same state, new Secret value, pod restarted.
            await retire(a);
            const b = await start("rot-b", CURRENT, newToken);
            expect((await probe(b.endpoint, oldToken)).error).toMatch(/AUTHENTICATION_FAILED/);
            expect((await probe(b.endpoint, newToken)).ok).toBe(true);
            const resumed = await after.client(b.endpoint).resumeSession(s.sessionId, sessionCfg());
            await turn(resumed, "after rotation");
            await resumed.disconnect();
            expect(userPrompts(readEventsFile(state, s.sessionId))).toEqual(["written under the old token", "after rotation"]);
        } finally {
            await before.stopAll();
            await after.stopAll();
        }
    }, 120_000);
});
