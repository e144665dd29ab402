/**
 * A Redis lease lock per session, so that only one writer runs a turn on a shared session at a time.
 * Two replicas writing one session concurrently fork its `events.jsonl` (measured on CLI 1.0.102: both turns succeed,
 * each server sees only its own, and the log gets two children of one parent),
 * so a backend wraps every turn in `withLock(sessionId, ...)`.
 *
 * Guarantees and limits:
 * - acquire is `SET key token NX PX lease`; the token is random per acquisition;
 * - release and renew are Lua compare-and-delete / compare-and-pexpire, so a writer whose lease
 *   expired can never free or extend the next owner's lock;
 * - fail closed: when Redis is unreachable or errors, `acquire`/`withLock` reject with
 *   `LockUnavailableError` and never run the function unlocked;
 * - waiting is polling with jittered exponential backoff (20–250 ms), not a queue: it is not fair,
 *   and under heavy contention one waiter can lose every round until its `waitMs` runs out;
 * - a single Redis (or a primary with async replicas) is assumed: this is not Redlock, and a failover
 *   that loses a fresh key can admit a second writer. Keep the lease short and renew it.
 */
import { randomBytes } from "node:crypto";
import Redis from "ioredis";

/** Default key prefix; the full key is `<prefix><sessionId>`. */
export const DEFAULT_LOCK_KEY_PREFIX = "copilot-fleet:lock:";
/** Default lease: long enough to ride out a GC pause or a slow Redis, short enough that a crashed writer frees the session quickly. */
export const DEFAULT_LEASE_MS = 30_000;
/** Default wait for a held lock: fail at once, the caller decides whether to wait. */
export const DEFAULT_WAIT_MS = 0;
/** Bound on each Redis round trip (connect or command) before we call Redis unavailable. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/** Retry pacing while waiting for a held lock: exponential from MIN to MAX, full jitter. */
const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 250;

const RELEASE_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;
const RENEW_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisSessionLockOptions {
    /**
     * A Redis URL (`redis://:password@host:port/db`) — the lock then owns its connection, configured
     * to fail fast (no offline queue, no background reconnects; it reconnects on the next call) — or
     * an ioredis client you own and close yourself. With your own client, prefer
     * `enableOfflineQueue: false`; each call is still bounded by `commandTimeoutMs`.
     */
    redis: string | Redis;
    /** Key namespace. Default `"copilot-fleet:lock:"` (`DEFAULT_LOCK_KEY_PREFIX`). */
    keyPrefix?: string;
    /** Lease length in ms; the lock frees itself this long after the last renewal. Default 30 000. */
    leaseMs?: number;
    /** How often `withLock` (and `autoRenew` handles) renew the lease, in ms. Must be < `leaseMs`. Default `leaseMs / 3`. */
    renewEveryMs?: number;
    /** Bound on each connect and command, in ms; beyond it the call fails with `LockUnavailableError`. Default 2 000. */
    commandTimeoutMs?: number;
}

export interface AcquireOptions {
    /** How long to wait for a held lock before `LockTimeoutError`, in ms. Default 0: one attempt. */
    waitMs?: number;
    /** Renew the lease in the background until `release()`. Default false for `acquire`; `withLock` always renews. */
    autoRenew?: boolean;
}

export interface LockHandle {
    readonly sessionId: string;
    /** Random per acquisition; the value stored in Redis. */
    readonly token: string;
    /** Aborted (reason: `LockLostError`) when a renewal finds the lock gone or the lease ran out unrenewed. */
    readonly signal: AbortSignal;
    /** True once the lock is known lost (see `signal`). */
    readonly lost: boolean;
    /** Deletes the key only if it still holds our token. Stops auto-renewal. False if we no longer owned it. */
    release(): Promise<boolean>;
    /** Extends the lease to `leaseMs` from now only if we still own it. False (and `signal` aborted) if lost. */
    renew(): Promise<boolean>;
}

/** Redis was unreachable, timed out or answered with an error. The lock fails closed. */
export class LockUnavailableError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "LockUnavailableError";
    }
}

/** The lock stayed held by someone else for the whole `waitMs`. */
export class LockTimeoutError extends Error {
    constructor(
        readonly sessionId: string,
        readonly waitedMs: number,
    ) {
        super(`session lock for "${sessionId}" is held by another writer; gave up after waiting ${waitedMs} ms`);
        this.name = "LockTimeoutError";
    }
}

/** The lease was lost while we held it (expired unrenewed, or taken over). The critical section was not exclusive. */
export class LockLostError extends Error {
    constructor(
        readonly sessionId: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
        this.name = "LockLostError";
    }
}

function describe(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

function positive(name: string, v: number): number {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number of ms, got ${v}`);
    return v;
}

class Lease implements LockHandle {
    private readonly controller = new AbortController();
    private timer: NodeJS.Timeout | undefined;
    private deadline: NodeJS.Timeout | undefined;
    private lastError: unknown;
    private done = false;
    /** Local upper bound of the lease, measured from before each SET/PEXPIRE was sent. */
    private expiresAt: number;

    constructor(
        private readonly owner: RedisSessionLock,
        readonly sessionId: string,
        readonly token: string,
        readonly key: string,
        sentAt: number,
    ) {
        this.expiresAt = sentAt + owner.leaseMs;
    }

    get signal(): AbortSignal {
        return this.controller.signal;
    }

    get lost(): boolean {
        return this.controller.signal.aborted;
    }

    markLost(message: string, cause?: unknown): void {
        if (this.controller.signal.aborted) return;
        this.stopRenewing();
        this.controller.abort(new LockLostError(this.sessionId, message, cause === undefined ? undefined : { cause }));
    }

    startRenewing(): void {
        if (this.done || this.lost || this.timer) return;
        this.armDeadline();
        const tick = async (): Promise<void> => {
            this.timer = undefined;
            if (this.done || this.lost) return;
            let delay = this.owner.renewEveryMs;
            try {
                if (!(await this.renew())) return;
                this.armDeadline();
            } catch (e) {
                // Redis hiccup: retry sooner, while the lease may still be ours; the deadline timer
                // declares the lock lost if no renewal lands in time.
                this.lastError = e;
                delay = Math.min(delay, Math.max(10, (this.expiresAt - Date.now()) / 4));
            }
            if (this.done || this.lost) return;
            this.timer = setTimeout(() => void tick(), delay);
            this.timer.unref();
        };
        this.timer = setTimeout(() => void tick(), this.owner.renewEveryMs);
        // Renewal must never be what keeps the process alive.
        this.timer.unref();
    }

    /** Fires when the local lease bound passes without a successful renewal: from then on another writer may hold it. */
    private armDeadline(): void {
        if (this.deadline) clearTimeout(this.deadline);
        this.deadline = setTimeout(() => {
            this.deadline = undefined;
            if (this.done || this.lost) return;
            const why = this.lastError === undefined ? "" : `: ${describe(this.lastError)}`;
            this.markLost(`session lock for "${this.sessionId}" could not be renewed before its lease ran out${why}`, this.lastError);
        }, Math.max(0, this.expiresAt - Date.now()));
        this.deadline.unref();
    }

    stopRenewing(): void {
        if (this.timer) clearTimeout(this.timer);
        if (this.deadline) clearTimeout(this.deadline);
        this.timer = undefined;
        this.deadline = undefined;
    }

    async renew(): Promise<boolean> {
        if (this.lost) return false;
        if (this.done) return false;
        const sentAt = Date.now();
        const r = await this.owner.run(`renew "${this.sessionId}"`, (c) =>
            c.eval(RENEW_SCRIPT, 1, this.key, this.token, String(this.owner.leaseMs)),
        );
        if (r === 1) {
            this.expiresAt = sentAt + this.owner.leaseMs;
            return true;
        }
        this.markLost(`session lock for "${this.sessionId}" was lost: its lease expired or another writer holds it`);
        return false;
    }

    async release(): Promise<boolean> {
        this.stopRenewing();
        if (this.done) return false;
        this.done = true;
        this.owner.forget(this);
        const r = await this.owner.run(`release "${this.sessionId}"`, (c) => c.eval(RELEASE_SCRIPT, 1, this.key, this.token));
        return r === 1;
    }
}

export class RedisSessionLock {
    readonly keyPrefix: string;
    readonly leaseMs: number;
    readonly renewEveryMs: number;
    readonly commandTimeoutMs: number;
    private readonly client: Redis;
    private readonly ownsClient: boolean;
    private connecting: Promise<void> | undefined;
    private closed = false;
    private readonly held = new Set<Lease>();

    constructor(opts: RedisSessionLockOptions) {
        this.keyPrefix = opts.keyPrefix ?? DEFAULT_LOCK_KEY_PREFIX;
        this.leaseMs = Math.ceil(positive("leaseMs", opts.leaseMs ?? DEFAULT_LEASE_MS));
        this.renewEveryMs = positive("renewEveryMs", opts.renewEveryMs ?? Math.max(1, Math.floor(this.leaseMs / 3)));
        if (this.renewEveryMs >= this.leaseMs) {
            throw new RangeError(`renewEveryMs (${this.renewEveryMs}) must be less than leaseMs (${this.leaseMs})`);
        }
        this.commandTimeoutMs = positive("commandTimeoutMs", opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
        if (typeof opts.redis === "string") {
            this.ownsClient = true;
            this.client = new Redis(opts.redis, {
                lazyConnect: true,
                // Fail fast instead of queueing commands while disconnected: the caller must not wait on a dead Redis.
                enableOfflineQueue: false,
                maxRetriesPerRequest: 0,
                connectTimeout: this.commandTimeoutMs,
                // No background reconnect loop (its timers would keep the process alive and hide outages);
                // `ensureConnected` reconnects on the next call instead.
                retryStrategy: () => null,
                autoResubscribe: false,
            });
            // Errors surface through the rejected calls; without a listener ioredis prints each one.
            this.client.on("error", () => undefined);
        } else {
            this.ownsClient = false;
            this.client = opts.redis;
        }
    }

    /** The Redis key for a session. */
    keyFor(sessionId: string): string {
        if (typeof sessionId !== "string" || sessionId.length === 0) throw new TypeError("sessionId must be a non-empty string");
        return this.keyPrefix + sessionId;
    }

    /**
     * Takes the lock, waiting up to `waitMs` (jittered retries) while another writer holds it.
     * Rejects with `LockTimeoutError` when the wait runs out, `LockUnavailableError` when Redis fails.
     */
    async acquire(sessionId: string, opts: AcquireOptions = {}): Promise<LockHandle> {
        const key = this.keyFor(sessionId);
        const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
        if (!Number.isFinite(waitMs) || waitMs < 0) throw new RangeError(`waitMs must be >= 0, got ${waitMs}`);
        const started = Date.now();
        let backoff = RETRY_MIN_MS;
        for (;;) {
            const token = randomBytes(18).toString("base64url");
            const sentAt = Date.now();
            let ok: string | null;
            try {
                ok = await this.run(`acquire "${sessionId}"`, (c) => c.set(key, token, "PX", this.leaseMs, "NX"));
            } catch (e) {
                // The SET may still land after our timeout; free it if so, so the session is not blocked for a lease.
                void this.run("cleanup", (c) => c.eval(RELEASE_SCRIPT, 1, key, token)).catch(() => undefined);
                throw e;
            }
            if (ok === "OK") {
                const lease = new Lease(this, sessionId, token, key, sentAt);
                this.held.add(lease);
                if (opts.autoRenew) lease.startRenewing();
                return lease;
            }
            const waited = Date.now() - started;
            const left = waitMs - waited;
            if (left <= 0) throw new LockTimeoutError(sessionId, waitMs);
            await sleep(Math.min(left, Math.max(1, Math.random() * backoff)));
            backoff = Math.min(RETRY_MAX_MS, backoff * 2);
        }
    }

    /**
     * Runs `fn` holding the lock, renewing the lease every `renewEveryMs` while it runs, and releases
     * afterwards. If the lease is lost meanwhile, `h.signal` aborts (stop the turn: `session.abort()`),
     * and once `fn` settles `withLock` rejects with `LockLostError` even if `fn` resolved. `fn` never
     * runs unless the lock was taken. A failed release is not an error: the lease expires by itself.
     */
    async withLock<T>(sessionId: string, fn: (h: LockHandle) => Promise<T>, opts: { waitMs?: number } = {}): Promise<T> {
        const handle = (await this.acquire(sessionId, { waitMs: opts.waitMs, autoRenew: true })) as Lease;
        let result: T;
        try {
            result = await fn(handle);
        } catch (e) {
            if (handle.lost) throw lostReason(handle, e);
            throw e;
        } finally {
            handle.stopRenewing();
            await handle.release().catch(() => false);
        }
        if (handle.lost) throw lostReason(handle);
        return result;
    }

    /** Stops renewals, releases locks still held (best effort) and closes the connection if the lock opened it. */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        const leases = [...this.held];
        await Promise.all(leases.map((l) => l.release().catch(() => false)));
        if (this.ownsClient) {
            try {
                if (this.client.status === "ready") await withTimeout(this.client.quit(), this.commandTimeoutMs, "quit");
            } catch {
                // fall through to disconnect
            }
            this.client.disconnect(false);
        }
    }

    /** @internal */
    forget(lease: Lease): void {
        this.held.delete(lease);
    }

    /** @internal Runs one Redis call bounded by `commandTimeoutMs`, mapping every failure to `LockUnavailableError`. */
    async run<R>(what: string, call: (c: Redis) => Promise<R>): Promise<R> {
        if (this.closed && what !== "cleanup") throw new LockUnavailableError(`session lock: ${what} after close()`);
        try {
            await this.ensureConnected();
            return await withTimeout(call(this.client), this.commandTimeoutMs, what);
        } catch (e) {
            if (e instanceof LockUnavailableError) throw e;
            throw new LockUnavailableError(`session lock unavailable (${what}): Redis did not answer: ${describe(e)}`, { cause: e });
        }
    }

    private async ensureConnected(): Promise<void> {
        const status = this.client.status;
        if (status === "ready") return;
        if (!this.ownsClient) {
            if (status === "wait") {
                this.connecting ??= this.client.connect().finally(() => (this.connecting = undefined));
                await withTimeout(this.connecting, this.commandTimeoutMs, "connect");
            } else if (status === "end") {
                throw new LockUnavailableError("session lock unavailable: the Redis client given to RedisSessionLock is closed");
            }
            // Otherwise let the caller's client decide (queue or reject); `run` bounds the wait.
            return;
        }
        if (status === "wait" || status === "end" || status === "close") {
            this.connecting ??= this.client.connect().finally(() => (this.connecting = undefined));
        }
        if (this.connecting) {
            await withTimeout(this.connecting, this.commandTimeoutMs + 500, "connect");
            return;
        }
        throw new LockUnavailableError(`session lock unavailable: Redis connection is ${status}`);
    }
}

function lostReason(handle: Lease, cause?: unknown): Error {
    const reason: unknown = handle.signal.reason;
    if (reason instanceof LockLostError) {
        return cause === undefined ? reason : new LockLostError(handle.sessionId, reason.message, { cause });
    }
    return new LockLostError(handle.sessionId, `session lock for "${handle.sessionId}" was lost`, { cause });
}

function withTimeout<R>(p: Promise<R>, ms: number, what: string): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LockUnavailableError(`session lock unavailable: Redis ${what} took longer than ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
