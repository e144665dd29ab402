/**
 * Idle suspend and wake on demand on real processes: a per-user local fleet (real Copilot CLI servers
 * behind the image's tool-guard wrapper, stub model) with the idle suspender running in process, the
 * same IdleSuspender the fleet's suspender container runs. One fleet for the file; tests run in order.
 *
 * Window 4 s, rounds every 400 ms: "idle" runs one turn and is left alone, "recent" keeps turning,
 * "busy" holds one turn in flight longer than the window, "off" is `suspended: true` in config.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRunning, localFleetControl, WakeRefusedError, type ServerControl } from "@copilot-fleet/client";
import type { CopilotSession } from "@github/copilot-sdk";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";
import { probe } from "../../smoke/rpc";
import { ClientPool, sessionConfig, sessionEvents, turn } from "../helpers/fleet";
import { userPrompts } from "../../smoke/events";

const IDLE_MS = 4000;
let fleet: LocalFleet;
let pool: ClientPool;
const user = (id: string) => {
    const u = fleet.outputs.users?.[id];
    if (!u) throw new Error(`no user ${id}`);
    return u;
};
const running = async (id: string): Promise<boolean> => (await fleet.control.state(id)).running;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (await cond()) return;
        await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
const wake = (id: string, control: ServerControl = fleet.control) => ensureRunning(id, { control, endpoint: user(id).endpoint, connectionToken: user(id).connectionToken, timeoutMs: 60_000 });

let idleSessionId: string;
/** Every server process the fleet started, by user (the fleet logs "<user>: <endpoint> (pid N)" per start). */
const launches: string[] = [];
const launchesOf = (id: string): number => launches.filter((l) => l.startsWith(`${id}: 127.0.0.1:`)).length;

beforeAll(async () => {
    fleet = await startLocalFleet({ mode: "per-user", users: ["idle", "recent", "busy", "racer", "off"], suspendedUsers: ["off"], idleSuspendMs: IDLE_MS, suspendIntervalMs: 400, log: (l) => launches.push(l) });
    pool = new ClientPool("");
}, 180_000);

afterAll(async () => {
    await pool?.stopAll();
    await fleet?.stop();
});

describe("idle suspend", () => {
    it("suspends the idle server and keeps the recently active one up", async () => {
        const idle = await pool.client(user("idle").endpoint, user("idle").connectionToken).createSession(sessionConfig(fleet.outputs));
        idleSessionId = idle.sessionId;
        expect(await turn(idle, "remember the word heron")).toMatch(/heron/);
        await idle.disconnect();
        const recentClient = pool.client(user("recent").endpoint, user("recent").connectionToken);
        const recent = await recentClient.createSession(sessionConfig(fleet.outputs));
        // "recent" turns every second for twice the window; "idle" does nothing.
        const until = Date.now() + 2 * IDLE_MS + 1000;
        while (Date.now() < until) {
            await turn(recent, `still here ${Date.now()}`);
            expect(await running("recent")).toBe(true);
            await sleep(1000);
        }
        expect(await running("idle")).toBe(false);
        expect(await running("recent")).toBe(true);
        expect((await probe(user("idle").endpoint, user("idle").connectionToken)).ok).toBe(false);
        await recent.disconnect();
    }, 60_000);

    it("keeps a server whose turn is in flight longer than the window, and the turn completes", async () => {
        // "busy" was suspended while unused; wake it, then hold one turn on the model for 2.5 windows.
        await wake("busy");
        const s = await pool.client(user("busy").endpoint, user("busy").connectionToken).createSession(sessionConfig(fleet.outputs));
        await turn(s, "first");
        fleet.stub.setReplyDelayMs(Math.round(2.5 * IDLE_MS));
        const t0 = Date.now();
        const slow = turn(s, "a long one", 60_000);
        let sawDown = false;
        while (Date.now() - t0 < 2 * IDLE_MS) {
            if (!(await running("busy"))) sawDown = true;
            await sleep(200);
        }
        expect(sawDown).toBe(false);
        expect(await slow).toMatch(/a long one/);
        fleet.stub.setReplyDelayMs(0);
        await s.disconnect();
        // Once the turn is over the window starts again, and then it goes.
        await waitFor("busy to be suspended after its turn", async () => !(await running("busy")), 3 * IDLE_MS);
    }, 90_000);
});

describe("wake on demand", () => {
    it("wakes the suspended server and the session resumes with its history; the first turn succeeds", async () => {
        expect(await running("idle")).toBe(false);
        const r = await wake("idle");
        expect(r.started).toBe(true);
        expect(r.endpoint).toBe(user("idle").endpoint);
        const c = pool.client(r.endpoint, user("idle").connectionToken);
        const s: CopilotSession = await c.resumeSession(idleSessionId, sessionConfig(fleet.outputs));
        expect(await turn(s, "what was the word?")).toMatch(/what was the word/);
        expect(userPrompts(await sessionEvents(s))).toEqual(["remember the word heron", "what was the word?"]);
        // The model saw the earlier turn: the resumed session carried its history.
        const last = fleet.stub.chatRequests().at(-1);
        expect(last?.messages?.some((m) => m.role === "user" && m.content.includes("remember the word heron"))).toBe(true);
        await s.disconnect();
    }, 60_000);

    it("wakes one user from many clients at once: one server starts", async () => {
        await waitFor("idle to be suspended again", async () => !(await running("idle")), 4 * IDLE_MS);
        // Eight backends, each with its own view of the platform (no shared in-process promise).
        let starts = 0;
        const backends: ServerControl[] = Array.from({ length: 8 }, () => ({
            platform: "local",
            state: (u) => fleet.control.state(u),
            start: async (u) => {
                starts++;
                await fleet.control.start(u);
            },
            stop: (u) => fleet.control.stop(u),
        }));
        const before = launchesOf("idle");
        const results = await Promise.all(backends.map((b) => wake("idle", b)));
        expect(new Set(results.map((r) => r.endpoint))).toEqual(new Set([user("idle").endpoint]));
        // Every backend may ask for a start (they all saw it stopped); the platform started one process.
        expect(starts).toBeGreaterThanOrEqual(1);
        expect(launchesOf("idle") - before).toBe(1);
        expect((await probe(user("idle").endpoint, user("idle").connectionToken)).ok).toBe(true);
    }, 60_000);

    it("a wake racing a suspend ends with a running server", async () => {
        for (let i = 0; i < 3; i++) {
            await wake("racer");
            // The stop and the wake race; whichever the platform takes first, the wake ends healthy.
            const [, r] = await Promise.all([fleet.control.stop("racer"), wake("racer")]);
            expect(await running("racer")).toBe(true);
            expect((await probe(r.endpoint, user("racer").connectionToken)).ok).toBe(true);
        }
        // The suspender's own decision racing a wake of an idle server: the wake's mark keeps it up.
        await waitFor("racer to be suspended", async () => !(await running("racer")), 4 * IDLE_MS);
        await wake("racer");
        const target = { id: "racer", endpoint: user("racer").endpoint, connectionToken: user("racer").connectionToken };
        const [decision, r] = await Promise.all([fleet.suspender?.decide(target), wake("racer")]);
        expect(decision).toBe("busy");
        expect(await running("racer")).toBe(true);
        expect((await probe(r.endpoint, user("racer").connectionToken)).ok).toBe(true);
    }, 90_000);

    it("wakes through the outputs file's control endpoint, as a backend in another process would", async () => {
        const info = fleet.outputs.idleSuspend;
        expect(info?.minutes).toBe(IDLE_MS / 60_000);
        const remote = localFleetControl({ url: info?.controlUrl as string, token: info?.controlToken as string });
        await waitFor("idle to be suspended", async () => !(await running("idle")), 4 * IDLE_MS);
        expect((await remote.state("idle")).running).toBe(false);
        const r = await wake("idle", remote);
        expect(r.started).toBe(true);
        const s = await pool.client(r.endpoint, user("idle").connectionToken).resumeSession(idleSessionId, sessionConfig(fleet.outputs));
        expect(await turn(s, "and again?")).toMatch(/and again/);
        await s.disconnect();
        await expect(localFleetControl({ url: info?.controlUrl as string, token: "wrong" }).state("idle")).rejects.toThrow(/401: wrong or missing bearer token/);
        await expect(remote.start("off")).rejects.toThrow(/suspended in config/);
    }, 60_000);

    it("never wakes a user suspended in config, and says why", async () => {
        await expect(wake("off")).rejects.toThrow(WakeRefusedError);
        await expect(wake("off")).rejects.toThrow(/suspended: true/);
        expect(await running("off")).toBe(false);
    });

    it("a failed wake says why", async () => {
        const broken: ServerControl = {
            platform: "local",
            state: async () => ({ running: false, suspendedInConfig: false }),
            start: async () => {
                throw new Error("quota exceeded");
            },
            stop: async () => undefined,
        };
        await expect(ensureRunning("idle", { control: broken, endpoint: "127.0.0.1:1", connectionToken: "x" })).rejects.toThrow(/start failed: quota exceeded/);
        const unmarked: ServerControl = { ...broken, state: async () => ({ running: false }) };
        await expect(ensureRunning("idle", { control: unmarked, endpoint: "127.0.0.1:1", connectionToken: "x" })).rejects.toThrow(/carries no copilot-fleet.github.com\/suspended marker/);
        const deaf: ServerControl = { ...broken, state: async () => ({ running: true, suspendedInConfig: false }) };
        await expect(ensureRunning("idle", { control: deaf, endpoint: "127.0.0.1:1", connectionToken: "x", timeoutMs: 800 })).rejects.toThrow(/not healthy within 800 ms .*last ping: connect to 127.0.0.1:1/);
    });
});
