/**
 * Fault drills on a real local fleet (4 Copilot CLI servers sharing one session-state folder,
 * HAProxy, Redis, stub model). One fleet for the file; each drill kills a different replica, so the
 * order of the tests matters and is fixed (vitest runs a file's tests sequentially).
 */
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LockUnavailableError, RedisSessionLock } from "@copilot-fleet/client";
import { assistantReplies, findForks, readEventsFile, userPrompts } from "../../smoke/events";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";
import { startRedis } from "../../smoke/local/redis";
import { probe } from "../../smoke/rpc";
import { ClientPool, sessionConfig, sessionEvents, turn } from "../helpers/fleet";

let fleet: LocalFleet;
let pool: ClientPool;
let token: string;
const ep = (name: string): string => fleet.server(name).endpoint;

beforeAll(async () => {
    fleet = await startLocalFleet({ replicas: 4, checkIntervalMs: 300 });
    token = fleet.outputs.connectionToken as string;
    pool = new ClientPool(token);
});

afterAll(async () => {
    await pool?.stopAll();
    await fleet?.stop();
    if (fleet) expect(existsSync(fleet.dir)).toBe(false);
});

describe("local fleet faults", () => {
    it("refuses wrong and missing tokens on every replica and the balancer", async () => {
        const endpoints = [...fleet.servers.values()].map((s) => s.endpoint).concat(fleet.outputs.endpoint as string);
        for (const e of endpoints) {
            expect((await probe(e, token)).ok, e).toBe(true);
            const wrong = await probe(e, token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"));
            expect(wrong.ok).toBe(false);
            expect(wrong.error).toMatch(/AUTHENTICATION_FAILED/);
            const missing = await probe(e, undefined);
            expect(missing.ok).toBe(false);
            expect(missing.error).toMatch(/AUTHENTICATION_FAILED/);
        }
    });

    it("two writers without the lock fork the session's events (the hazard the lock exists for)", async () => {
        const cfg = sessionConfig(fleet.outputs);
        const s = await pool.client(ep("replica-0")).createSession(cfg);
        await turn(s, "fork base");
        await s.disconnect();
        const a = await pool.client(ep("replica-0")).resumeSession(s.sessionId, cfg);
        const b = await pool.client(ep("replica-1")).resumeSession(s.sessionId, cfg);
        // Both turns succeed: nothing on the server stops concurrent writers.
        await Promise.all([turn(a, "fork writer a"), turn(b, "fork writer b")]);
        await Promise.all([a.disconnect(), b.disconnect()]);
        const onDisk = readEventsFile(fleet.sessionStatePath as string, s.sessionId);
        expect(findForks(onDisk).length).toBeGreaterThan(0);
        // deleteSession does not connect by itself.
        const c = pool.client(ep("replica-2"));
        await c.start();
        await c.deleteSession(s.sessionId);
    });

    it("with the lock, 3 writers x 3 turns on 3 replicas all land in one chain", async () => {
        const cfg = sessionConfig(fleet.outputs);
        const lock = new RedisSessionLock({ redis: fleet.outputs.redisUrl as string });
        try {
            const s = await pool.client(ep("replica-0")).createSession(cfg);
            await turn(s, "chain base");
            await s.disconnect();
            const landed: string[] = [];
            await Promise.all(
                [0, 1, 2].map(async (w) => {
                    const c = pool.client(ep(`replica-${w}`));
                    for (let m = 0; m < 3; m++) {
                        await lock.withLock(
                            s.sessionId,
                            async () => {
                                const r = await c.resumeSession(s.sessionId, cfg);
                                try {
                                    const prompt = `chain w${w} m${m}`;
                                    await turn(r, prompt);
                                    landed.push(prompt);
                                } finally {
                                    await r.disconnect();
                                }
                            },
                            { waitMs: 60_000 },
                        );
                    }
                }),
            );
            expect(landed).toHaveLength(9);
            const onDisk = readEventsFile(fleet.sessionStatePath as string, s.sessionId);
            expect(findForks(onDisk)).toEqual([]);
            const prompts = userPrompts(onDisk);
            // Every turn is in the log, in exactly the order the lock granted it.
            const order = ["chain base", ...landed].map((p) => prompts.findIndex((q) => q.includes(p)));
            expect(order.every((x) => x >= 0)).toBe(true);
            expect([...order].sort((x, y) => x - y)).toEqual(order);
        } finally {
            await lock.close();
        }
    }, 120_000);

    it("SIGKILL right after a turn: another replica resumes with every turn, runs a new one, and can delete the session", async () => {
        const cfg = sessionConfig(fleet.outputs);
        const s = await pool.client(ep("replica-1")).createSession(cfg);
        await turn(s, "kill turn one");
        await turn(s, "kill turn two");
        // Still open on replica-1: its in-use lock files are on the shared folder when it dies.
        await fleet.killReplica("replica-1", "SIGKILL");
        const dir = path.join(fleet.sessionStatePath as string, s.sessionId);
        const stale = readdirSync(dir).filter((f) => f.startsWith("inuse."));
        expect(stale.length).toBeGreaterThan(0);

        const r = await pool.client(ep("replica-0")).resumeSession(s.sessionId, cfg);
        const prompts = userPrompts(await sessionEvents(r));
        expect(prompts.findIndex((p) => p.includes("kill turn one"))).toBeGreaterThanOrEqual(0);
        expect(prompts.findIndex((p) => p.includes("kill turn two"))).toBeGreaterThan(prompts.findIndex((p) => p.includes("kill turn one")));
        const before = fleet.stub.chatRequests().length;
        await turn(r, "kill turn three");
        // The new model request carries the turns completed on the dead replica.
        const req = fleet.stub.chatRequests().slice(before).pop();
        const history = (req?.messages ?? []).map((m) => m.content).join("\n");
        expect(history).toContain("kill turn one");
        expect(history).toContain("kill turn two");
        await r.disconnect();

        // The dead pid's lock files are stale; deleteSession from a live replica still works.
        const c = pool.client(ep("replica-2"));
        await c.start();
        await c.deleteSession(s.sessionId);
        expect(existsSync(dir)).toBe(false);
    }, 60_000);

    it("SIGTERM during a turn: turns already persisted survive and resume elsewhere", async () => {
        const cfg = sessionConfig(fleet.outputs);
        const s = await pool.client(ep("replica-2")).createSession(cfg);
        await turn(s, "term turn one");
        fleet.stub.setReplyDelayMs(5_000);
        try {
            const inFlight = s.sendAndWait({ prompt: "term turn in flight" }, 4_000).then(
                (r) => ({ ok: true as const, text: r?.data.content }),
                (e: unknown) => ({ ok: false as const, error: String(e) }),
            );
            // Wait until the model request is in flight, then SIGTERM the server.
            const deadline = Date.now() + 10_000;
            while (!fleet.stub.chatRequests().some((q) => q.messages?.some((m) => m.content.includes("term turn in flight")))) {
                if (Date.now() > deadline) throw new Error("turn never reached the model");
                await new Promise((res) => setTimeout(res, 20));
            }
            const t0 = Date.now();
            await fleet.killReplica("replica-2", "SIGTERM");
            const exitMs = Date.now() - t0;
            const outcome = await inFlight;
            const exit = await fleet.server("replica-2").exited;
            console.log(`SIGTERM mid-turn: exited in ${exitMs} ms (code ${exit.code}, signal ${exit.signal}); in-flight turn: ${JSON.stringify(outcome)}`);
            fleet.stub.setReplyDelayMs(0);

            const r = await pool.client(ep("replica-0")).resumeSession(s.sessionId, cfg);
            const prompts = userPrompts(await sessionEvents(r));
            expect(prompts.some((p) => p.includes("term turn one"))).toBe(true);
            // Measured: the CLI exits at once (code 0) without finishing the turn; the SDK call does not
            // reject on the closed socket, it only times out. The prompt was persisted before the model
            // call; no reply to it was.
            expect(exitMs).toBeLessThan(5_000);
            expect(outcome.ok).toBe(false);
            expect(prompts.some((p) => p.includes("term turn in flight"))).toBe(true);
            expect(assistantReplies(await sessionEvents(r)).some((t) => t.includes("term turn in flight"))).toBe(false);
            await turn(r, "term turn after");
            await r.disconnect();
            const c = pool.client(ep("replica-3"));
            await c.start();
            await c.deleteSession(s.sessionId);
        } finally {
            fleet.stub.setReplyDelayMs(0);
        }
    }, 60_000);

    it("right after a replica dies, every client through the balancer still gets a working server", async () => {
        const lb = fleet.outputs.endpoint as string;
        // Warm: the balancer has all live replicas up.
        for (let i = 0; i < 4; i++) expect((await probe(lb, token)).ok).toBe(true);
        await fleet.killReplica("replica-3", "SIGKILL");
        // Immediately, before any health check could mark it down: 12 connections round-robin over it.
        const results = await Promise.all(Array.from({ length: 12 }, () => probe(lb, token, { timeoutMs: 3000 })));
        expect(results.filter((r) => !r.ok)).toEqual([]);
        // And a real session through the balancer works.
        const cfg = sessionConfig(fleet.outputs);
        const s = await pool.client(lb).createSession(cfg);
        await turn(s, "after a replica died");
        await s.disconnect();
    }, 30_000);

    it("the lock fails closed with LockUnavailableError when Redis is down", async () => {
        const redis = await startRedis();
        const lock = new RedisSessionLock({ redis: redis.url });
        try {
            const h = await lock.acquire("fail-closed");
            expect(await h.release()).toBe(true);
            await redis.stop();
            let ran = false;
            await expect(
                lock.withLock("fail-closed", async () => {
                    ran = true;
                }),
            ).rejects.toBeInstanceOf(LockUnavailableError);
            expect(ran).toBe(false);
        } finally {
            await lock.close();
            await redis.stop();
        }
    });
});
