/**
 * Wake on demand: the backend is the hub (as JupyterHub's hub spawns a user's server). Before it opens
 * a user's session it calls `ensureRunning`, which starts that user's server through the platform's
 * `ServerControl` when the idle suspender stopped it, and resolves once the server answers an
 * authenticated `ping`, so the first turn after a wake finds a healthy server.
 *
 * - Concurrent wakes of one user start one server: in one process they share one promise; across
 *   processes the platform's start is idempotent (scale to 1, `docker start` of a running container,
 *   ACI `start` of a running group) and every waiter polls the same server.
 * - A wake never starts a user who is `suspended: true` in the stack config, nor one whose platform
 *   object does not say (a fleet deployed without idle suspend): `WakeRefusedError`.
 * - A wake racing the suspender ends with a running server: while waiting it re-reads the platform
 *   state and starts the server again if it was stopped meanwhile, until healthy or the deadline.
 * - A failed wake says why: `WakeError` carries the platform's last answer and the last ping error.
 */
import type { ServerControl, UserServerState } from "./control";
import { ping } from "./rpc";

/** Default bound on one wake: a cold start measured 0.5–2.2 s; a pod scheduled on a busy node takes longer. */
export const DEFAULT_WAKE_TIMEOUT_MS = 120_000;

export class WakeRefusedError extends Error {
    constructor(
        readonly userId: string,
        reason: string,
    ) {
        super(`will not wake ${JSON.stringify(userId)}: ${reason}`);
        this.name = "WakeRefusedError";
    }
}

export class WakeError extends Error {
    constructor(
        readonly userId: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(`wake ${JSON.stringify(userId)}: ${message}`, options);
        this.name = "WakeError";
    }
}

export interface EnsureRunningOptions {
    /** The platform's control (kubernetesControl, dockerControl, aciControl, or the local fleet's). */
    readonly control: ServerControl;
    /** The user's endpoint from the stack outputs (`users[id].endpoint`); the platform's current one wins when it reports one. */
    readonly endpoint?: string;
    /** The user's connection token (`users[id].connectionToken`): the health wait authenticates. */
    readonly connectionToken: string;
    /** Default 120 000. */
    readonly timeoutMs?: number;
    /** Pause between health probes. Default 100 ms. */
    readonly pollMs?: number;
}

export interface WakeResult {
    /** Where the server answers. */
    readonly endpoint: string;
    /**
     * This call (or a concurrent one in this process) asked the platform to start the server; false when
     * it was already running. Wakes in other processes may have asked too: the platform starts one server.
     */
    readonly started: boolean;
    readonly ms: number;
}

/** Wakes in flight, per control (one backend's view of a platform) and user. */
const inFlight = new WeakMap<ServerControl, Map<string, Promise<WakeResult>>>();

/** Start the user's server if needed and wait until it answers; see the module comment for the guarantees. */
export function ensureRunning(userId: string, opts: EnsureRunningOptions): Promise<WakeResult> {
    let perControl = inFlight.get(opts.control);
    if (!perControl) {
        perControl = new Map();
        inFlight.set(opts.control, perControl);
    }
    const mine = perControl;
    let p = mine.get(userId);
    if (!p) {
        p = wake(userId, opts).finally(() => mine.delete(userId));
        mine.set(userId, p);
    }
    return p;
}

async function wake(userId: string, opts: EnsureRunningOptions): Promise<WakeResult> {
    const started = Date.now();
    const deadline = started + (opts.timeoutMs ?? DEFAULT_WAKE_TIMEOUT_MS);
    const pollMs = opts.pollMs ?? 100;
    let didStart = false;
    let lastState: UserServerState | undefined;
    let lastPing = "not tried";
    let lastStateAt = 0;
    const readState = async (): Promise<UserServerState> => {
        let state: UserServerState;
        try {
            state = await opts.control.state(userId);
        } catch (e) {
            throw new WakeError(userId, `cannot read the server's state on ${opts.control.platform}: ${(e as Error).message}`, { cause: e });
        }
        if (state.suspendedInConfig === true) throw new WakeRefusedError(userId, "the stack config says suspended: true (set it to false and run pulumi up)");
        if (state.suspendedInConfig === undefined) {
            throw new WakeRefusedError(userId, `its ${opts.control.platform} object carries no ${"copilot-fleet.github.com/suspended"} marker (deploy the fleet with idleSuspendMinutes set)`);
        }
        return state;
    };
    if (opts.control.touch) {
        // Refuse first: a user a wake may not start gets no "wanted" mark either.
        await readState();
        try {
            await opts.control.touch(userId);
        } catch (e) {
            throw new WakeError(userId, `cannot mark the server wanted on ${opts.control.platform}: ${(e as Error).message}`, { cause: e });
        }
    }
    for (;;) {
        if (Date.now() >= deadline) {
            throw new WakeError(userId, `not healthy within ${opts.timeoutMs ?? DEFAULT_WAKE_TIMEOUT_MS} ms (platform says running: ${lastState?.running}; last ping: ${lastPing})`);
        }
        // Re-read the platform every second at most: cheap, and it catches a suspend that raced us.
        if (lastState === undefined || Date.now() - lastStateAt >= 1000) {
            lastState = await readState();
            lastStateAt = Date.now();
            if (!lastState.running) {
                try {
                    await opts.control.start(userId);
                } catch (e) {
                    throw new WakeError(userId, `start failed: ${(e as Error).message}`, { cause: e });
                }
                didStart = true;
                lastState = { ...lastState, running: true };
            }
        }
        const endpoint = lastState.endpoint ?? opts.endpoint;
        if (endpoint === undefined) throw new WakeError(userId, "no endpoint: pass the stack output's users[id].endpoint");
        try {
            await ping(endpoint, opts.connectionToken, Math.max(200, Math.min(3000, deadline - Date.now())));
            // A suspend that landed while we probed: the server answering now may be on its way out.
            const after = await opts.control.state(userId);
            if (after.running) return { endpoint, started: didStart, ms: Date.now() - started };
            lastState = after;
            lastStateAt = 0;
            continue;
        } catch (e) {
            lastPing = (e as Error).message;
            if (/AUTHENTICATION_FAILED/i.test(lastPing)) throw new WakeError(userId, `the server refused the connection token (${lastPing})`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, pollMs));
    }
}
