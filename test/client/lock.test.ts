import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import * as path from "node:path";
import Redis from "ioredis";
import { startRedis, type RedisProcess } from "../../smoke/local/redis";
import {
    DEFAULT_LOCK_KEY_PREFIX,
    LockLostError,
    LockTimeoutError,
    LockUnavailableError,
    RedisSessionLock,
    type LockHandle,
} from "@copilot-fleet/client";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `signal` to abort, or fails after `ms`: a test must never hang on a signal that never comes. */
function aborted(signal: AbortSignal, ms: number): Promise<unknown> {
    if (signal.aborted) return Promise.resolve(signal.reason);
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`signal did not abort within ${ms} ms`)), ms);
        signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve(signal.reason);
        });
    });
}

let redis: RedisProcess;
let admin: Redis;
const locks: RedisSessionLock[] = [];
let seq = 0;

function newLock(opts: Partial<ConstructorParameters<typeof RedisSessionLock>[0]> = {}): RedisSessionLock {
    const l = new RedisSessionLock({ redis: redis.url, ...opts });
    locks.push(l);
    return l;
}
/** A fresh session id per test so leftovers from one test never affect another. */
const sid = (): string => `s-${process.pid}-${++seq}`;

beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
});
afterEach(async () => {
    await Promise.all(locks.splice(0).map((l) => l.close()));
});
afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
});

describe("RedisSessionLock against a real redis-server", () => {
    it("stores a fresh random token under the namespaced key with a lease, and releases it", async () => {
        const lock = newLock({ leaseMs: 5_000 });
        const id = sid();
        const h1 = await lock.acquire(id);
        const key = `${DEFAULT_LOCK_KEY_PREFIX}${id}`;
        expect(key).toBe(`copilot-fleet:lock:${id}`);
        expect(await admin.get(key)).toBe(h1.token);
        const ttl = await admin.pttl(key);
        expect(ttl).toBeGreaterThan(4_000);
        expect(ttl).toBeLessThanOrEqual(5_000);
        expect(await h1.release()).toBe(true);
        expect(await admin.exists(key)).toBe(0);
        const h2 = await lock.acquire(id);
        expect(h2.token).not.toBe(h1.token);
        expect(await h2.release()).toBe(true);
    });

    it("honours a custom key prefix", async () => {
        const lock = newLock({ keyPrefix: "app1:lk:" });
        const id = sid();
        const h = await lock.acquire(id);
        expect(await admin.get(`app1:lk:${id}`)).toBe(h.token);
        expect(await admin.exists(`copilot-fleet:lock:${id}`)).toBe(0);
        await h.release();
    });

    it("gives mutual exclusion to K concurrent writers on separate connections", async () => {
        const K = 8;
        const id = sid();
        let inside = 0;
        let maxInside = 0;
        const order: number[] = [];
        const writers = Array.from({ length: K }, (_, i) =>
            newLock({ leaseMs: 5_000 }).withLock(
                id,
                async () => {
                    inside++;
                    maxInside = Math.max(maxInside, inside);
                    // Yield several times inside the critical section so an overlapping writer would be seen.
                    for (let j = 0; j < 3; j++) {
                        await sleep(5);
                        expect(inside).toBe(1);
                    }
                    order.push(i);
                    inside--;
                    return i;
                },
                { waitMs: 20_000 },
            ),
        );
        const results = await Promise.all(writers);
        expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: K }, (_, i) => i));
        expect(maxInside).toBe(1);
        expect(order).toHaveLength(K);
        expect(await admin.exists(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe(0);
    });

    it("a non-owner cannot release or renew: after expiry and takeover, the old handle returns false and leaves the lock", async () => {
        const a = newLock({ leaseMs: 200 });
        const b = newLock({ leaseMs: 5_000 });
        const id = sid();
        const old = await a.acquire(id);
        await sleep(300);
        const cur = await b.acquire(id);
        expect(await old.release()).toBe(false);
        expect(await admin.get(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe(cur.token);
        // A second old-style handle that never released: renew must not extend someone else's lease.
        const c = newLock({ leaseMs: 200 });
        const id2 = sid();
        const stale = await c.acquire(id2);
        await sleep(300);
        const fresh = await b.acquire(id2);
        expect(await stale.renew()).toBe(false);
        expect(stale.lost).toBe(true);
        expect(stale.signal.reason).toBeInstanceOf(LockLostError);
        expect(await admin.get(`${DEFAULT_LOCK_KEY_PREFIX}${id2}`)).toBe(fresh.token);
        expect(await admin.pttl(`${DEFAULT_LOCK_KEY_PREFIX}${id2}`)).toBeGreaterThan(4_000);
        await cur.release();
        await fresh.release();
    });

    it("lease expiry lets another writer acquire", async () => {
        const holder = newLock({ leaseMs: 300 });
        const other = newLock();
        const id = sid();
        await holder.acquire(id); // never released: the process "crashed"
        const t = Date.now();
        await expect(other.acquire(id)).rejects.toBeInstanceOf(LockTimeoutError);
        const h = await other.acquire(id, { waitMs: 3_000 });
        const waited = Date.now() - t;
        expect(waited).toBeGreaterThanOrEqual(200);
        expect(waited).toBeLessThan(2_000);
        expect(await h.release()).toBe(true);
    });

    it("withLock renews the lease so a fn running several leases long keeps the lock", async () => {
        // The lease leaves room for a loaded 2-core CI box to stall a few hundred ms without losing it.
        const lock = newLock({ leaseMs: 600, renewEveryMs: 150 });
        const probe = newLock();
        const id = sid();
        let probesRefused = 0;
        const result = await lock.withLock(id, async (h) => {
            for (let i = 0; i < 12; i++) {
                await sleep(150); // 1.8 s in total: three leases
                await expect(probe.acquire(id)).rejects.toBeInstanceOf(LockTimeoutError);
                probesRefused++;
                expect(h.lost).toBe(false);
            }
            return "done";
        });
        expect(result).toBe("done");
        expect(probesRefused).toBe(12);
        // Renewal stopped and the key is gone after release.
        expect(await admin.exists(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe(0);
    });

    it("acquire with autoRenew keeps the lease past several leases until release", async () => {
        const lock = newLock({ leaseMs: 500, renewEveryMs: 100 });
        const id = sid();
        const h = await lock.acquire(id, { autoRenew: true });
        await sleep(1_200);
        expect(await admin.get(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe(h.token);
        expect(await h.release()).toBe(true);
        await sleep(250);
        expect(await admin.exists(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe(0);
    });

    it("a lease taken over while fn runs aborts the handle's signal and withLock rejects with LockLostError", async () => {
        const lock = newLock({ leaseMs: 600, renewEveryMs: 100 });
        const id = sid();
        let sawReason: unknown;
        const run = lock.withLock(id, async (h) => {
            // Someone else's write wins the key (e.g. our lease had expired during a long stall).
            await admin.set(`${DEFAULT_LOCK_KEY_PREFIX}${id}`, "someone-else", "PX", 10_000);
            sawReason = await aborted(h.signal, 3_000);
            return "finished anyway";
        });
        await expect(run).rejects.toBeInstanceOf(LockLostError);
        await expect(run).rejects.toThrow(id);
        expect(sawReason).toBeInstanceOf(LockLostError);
        // The foreign owner's key is untouched by our release.
        expect(await admin.get(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)).toBe("someone-else");
        await admin.del(`${DEFAULT_LOCK_KEY_PREFIX}${id}`);
    });

    it("waitMs runs out with a LockTimeoutError that names the session and the wait", async () => {
        const lock = newLock({ leaseMs: 10_000 });
        const id = sid();
        const h = await lock.acquire(id);
        const t = Date.now();
        const err = await lock.acquire(id, { waitMs: 400 }).then(
            () => undefined,
            (e: unknown) => e,
        );
        const elapsed = Date.now() - t;
        expect(err).toBeInstanceOf(LockTimeoutError);
        expect((err as Error).message).toBe(`session lock for "${id}" is held by another writer; gave up after waiting 400 ms`);
        expect((err as LockTimeoutError).sessionId).toBe(id);
        expect(elapsed).toBeGreaterThanOrEqual(380);
        expect(elapsed).toBeLessThan(1_500);
        await h.release();
    });

    it("a user-supplied ioredis client works and is left open by close()", async () => {
        const own = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
        try {
            const lock = new RedisSessionLock({ redis: own });
            const id = sid();
            expect(await lock.withLock(id, async (h) => (await admin.get(`${DEFAULT_LOCK_KEY_PREFIX}${id}`)) === h.token)).toBe(true);
            await lock.close();
            expect(own.status).toBe("ready");
            expect(await own.ping()).toBe("PONG");
        } finally {
            own.disconnect();
        }
    });

    it("rejects bad options and ids", () => {
        expect(() => new RedisSessionLock({ redis: redis.url, leaseMs: 100, renewEveryMs: 100 })).toThrow(/renewEveryMs/);
        expect(() => new RedisSessionLock({ redis: redis.url, leaseMs: 0 })).toThrow(/leaseMs/);
        const lock = newLock();
        expect(() => lock.keyFor("")).toThrow(/sessionId/);
    });
});

describe("RedisSessionLock fails closed when Redis is unavailable", () => {
    it("Redis stopped → LockUnavailableError within 3 s, fn never runs; recovers when Redis is back", async () => {
        const r = await startRedis();
        const lock = new RedisSessionLock({ redis: r.url });
        try {
            const id = sid();
            await (await lock.acquire(id)).release(); // connected and working first
            await r.stop();
            let ran = false;
            const t = Date.now();
            const err = await lock
                .withLock(id, async () => {
                    ran = true;
                })
                .then(
                    () => undefined,
                    (e: unknown) => e,
                );
            const elapsed = Date.now() - t;
            expect(err).toBeInstanceOf(LockUnavailableError);
            expect((err as Error).message).toMatch(/session lock unavailable/);
            expect(ran).toBe(false);
            expect(elapsed).toBeLessThan(3_000);
            // A second call fails just as fast (no queue building up behind a dead connection).
            const t2 = Date.now();
            await expect(lock.acquire(id)).rejects.toBeInstanceOf(LockUnavailableError);
            expect(Date.now() - t2).toBeLessThan(3_000);
            // Same URL comes back: the lock reconnects on the next call.
            const again = await startRedis({ port: r.port, password: r.password });
            try {
                const h = await lock.acquire(id);
                expect(await h.release()).toBe(true);
            } finally {
                await again.stop();
            }
        } finally {
            await lock.close();
            await r.stop();
        }
    });

    it("never-reachable Redis → LockUnavailableError within 3 s", async () => {
        const r = await startRedis();
        const url = r.url;
        await r.stop(); // the port is now closed
        const lock = new RedisSessionLock({ redis: url });
        try {
            let ran = false;
            const t = Date.now();
            await expect(
                lock.withLock(sid(), async () => {
                    ran = true;
                }),
            ).rejects.toBeInstanceOf(LockUnavailableError);
            expect(Date.now() - t).toBeLessThan(3_000);
            expect(ran).toBe(false);
        } finally {
            await lock.close();
        }
    });

    it("Redis dying mid-turn: renewals fail, and once the lease is past the signal aborts and withLock rejects", async () => {
        const r = await startRedis();
        const lock = new RedisSessionLock({ redis: r.url, leaseMs: 600, renewEveryMs: 150, commandTimeoutMs: 300 });
        try {
            let reason: unknown;
            const t = Date.now();
            const run = lock.withLock(sid(), async (h: LockHandle) => {
                await r.stop();
                reason = await aborted(h.signal, 5_000);
            });
            await expect(run).rejects.toBeInstanceOf(LockLostError);
            const elapsed = Date.now() - t;
            expect(reason).toBeInstanceOf(LockLostError);
            expect((reason as Error).message).toMatch(/could not be renewed before its lease ran out/);
            // Lost no earlier than the lease allows and not much later.
            expect(elapsed).toBeGreaterThanOrEqual(550);
            expect(elapsed).toBeLessThan(3_000);
        } finally {
            await lock.close();
            await r.stop();
        }
    });

    it("leaves no handles behind: a process using the lock exits by itself, also after Redis went away", async () => {
        const fixture = path.join(__dirname, "fixtures", "lock-exit.ts");
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", fixture], {
            cwd: path.join(__dirname, "..", ".."),
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | string>((resolve) => {
            const t = setTimeout(() => {
                child.kill("SIGKILL");
                resolve("did not exit within 20 s");
            }, 20_000);
            child.on("exit", (c, s) => {
                clearTimeout(t);
                resolve(c ?? String(s));
            });
        });
        expect(out).toContain("fixture: unavailable LockUnavailableError");
        expect(out).toContain("fixture: done");
        expect(code).toBe(0);
    }, 30_000);
});
