/**
 * The idle suspender: every `intervalMs` it asks each user's server what it is doing (./idle.ts) and
 * stops the ones idle for `idleMs` through the platform's `ServerControl`. It runs beside the fleet
 * (a Deployment on Kubernetes, a container on Docker: see docs/operations.md) or in a backend
 * process, and logs one JSON line per decision that changed something, and one summary per round.
 *
 * What keeps it from stopping a busy server:
 * - a session with a turn or task in flight (`hasActiveWork`), or a session modified within the window;
 * - a server it has not seen running for a whole window yet (just started or woken, or the suspender
 *   itself just started): the window counts from the first time it saw the server up;
 * - anything it cannot read counts as busy (never a guess);
 * - right before stopping it reads the server again; a turn that started meanwhile keeps it up.
 * A turn started in the milliseconds between that last read and the stop fails, and the backend's
 * next `ensureRunning` + `resumeSession` finds the session with its history (nothing persisted is lost).
 */
import type { ServerControl } from "./control";
import { idleVerdict, readServerActivity, type ServerActivity } from "./idle";

export interface SuspendTarget {
    readonly id: string;
    /** `host:port` the suspender dials (in-cluster: the user's Service). */
    readonly endpoint: string;
    readonly connectionToken: string;
}

export interface IdleSuspenderOptions {
    readonly users: readonly SuspendTarget[];
    readonly control: ServerControl;
    /** `idleSuspendMinutes` in ms. */
    readonly idleMs: number;
    /** Time between rounds. Default: a tenth of the window, between 5 s and 60 s. */
    readonly intervalMs?: number;
    /** Per-server RPC timeout. Default 5 000. */
    readonly rpcTimeoutMs?: number;
    /** One JSON object per line. Default: stdout. */
    readonly log?: (entry: Record<string, unknown>) => void;
    /** Called after every round (the container writes its heartbeat file here). */
    readonly onRound?: (summary: RoundSummary) => void;
    /** For tests. Default Date.now. */
    readonly now?: () => number;
}

export type UserDecision = "suspended" | "busy" | "stopped-already" | "unreachable" | "error";

export interface RoundSummary {
    readonly suspended: number;
    readonly busy: number;
    readonly stoppedAlready: number;
    readonly unreachable: number;
    readonly errors: number;
    readonly ms: number;
}

export function defaultInterval(idleMs: number): number {
    return Math.min(60_000, Math.max(5_000, Math.floor(idleMs / 10)));
}

export class IdleSuspender {
    private readonly upSince = new Map<string, number>();
    private timer?: NodeJS.Timeout;
    private running?: Promise<RoundSummary>;
    private stopped = false;
    private readonly now: () => number;
    private readonly log: (entry: Record<string, unknown>) => void;

    constructor(private readonly opts: IdleSuspenderOptions) {
        this.now = opts.now ?? Date.now;
        this.log = opts.log ?? ((e) => process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`));
    }

    /** Runs rounds until `stop()`. The first round starts at once. */
    start(): void {
        const loop = async (): Promise<void> => {
            if (this.stopped) return;
            await this.round();
            if (!this.stopped) this.timer = setTimeout(() => void loop(), this.opts.intervalMs ?? defaultInterval(this.opts.idleMs));
        };
        void loop();
    }

    /** Stops after the round in hand (resolves when it has finished). */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        await this.running?.catch(() => undefined);
    }

    /** One pass over every user (rounds never overlap: a second call joins the one in hand). */
    round(): Promise<RoundSummary> {
        this.running ??= this.pass().finally(() => (this.running = undefined));
        return this.running;
    }

    private async pass(): Promise<RoundSummary> {
        const t0 = this.now();
        const counts = { suspended: 0, busy: 0, stoppedAlready: 0, unreachable: 0, errors: 0 };
        for (const u of this.opts.users) {
            const d = await this.decide(u);
            if (d === "suspended") counts.suspended++;
            else if (d === "busy") counts.busy++;
            else if (d === "stopped-already") counts.stoppedAlready++;
            else if (d === "unreachable") counts.unreachable++;
            else counts.errors++;
        }
        const summary = { ...counts, ms: this.now() - t0 };
        this.log({ event: "suspend.summary", users: this.opts.users.length, ...summary });
        this.opts.onRound?.(summary);
        return summary;
    }

    private async activity(u: SuspendTarget): Promise<ServerActivity> {
        return readServerActivity(u.endpoint, u.connectionToken, this.opts.rpcTimeoutMs ?? 5000);
    }

    /** One user: stop the server if it is idle. */
    async decide(u: SuspendTarget): Promise<UserDecision> {
        let state;
        try {
            state = await this.opts.control.state(u.id);
        } catch (e) {
            this.log({ event: "suspend.user", user: u.id, action: "error", stage: "state", error: (e as Error).message });
            return "error";
        }
        if (!state.running) {
            this.upSince.delete(u.id);
            return "stopped-already";
        }
        if (this.opts.control.startCompanions) {
            // A backend's wake starts the server only; what was stopped with it comes back here.
            try {
                await this.opts.control.startCompanions(u.id);
            } catch (e) {
                this.log({ event: "suspend.user", user: u.id, action: "error", stage: "companions", error: (e as Error).message });
            }
        }
        const seen = Math.max(this.upSince.get(u.id) ?? this.now(), state.wantedAtMs ?? -Infinity);
        this.upSince.set(u.id, seen);
        const endpoint = state.endpoint ?? u.endpoint;
        let verdict;
        try {
            verdict = idleVerdict(await this.activity({ ...u, endpoint }), this.now(), this.opts.idleMs, seen);
        } catch (e) {
            // Starting, restarting, or not ours to judge: counts as busy, and its window starts again once it answers.
            this.upSince.set(u.id, this.now());
            this.log({ event: "suspend.user", user: u.id, action: "kept", reason: `cannot read its sessions: ${(e as Error).message}` });
            return "unreachable";
        }
        if (!verdict.idle) return "busy";
        // Read again right before stopping: a turn that started, or a wake that asked for the server, during this round keeps it up.
        try {
            const latest = await this.opts.control.state(u.id);
            const since = Math.max(seen, latest.wantedAtMs ?? -Infinity);
            const again = latest.running ? idleVerdict(await this.activity({ ...u, endpoint }), this.now(), this.opts.idleMs, since) : undefined;
            if (again === undefined) return "stopped-already";
            if (!again.idle) {
                this.log({ event: "suspend.user", user: u.id, action: "kept", reason: again.reason });
                return "busy";
            }
        } catch (e) {
            this.log({ event: "suspend.user", user: u.id, action: "kept", reason: `cannot read its sessions: ${(e as Error).message}` });
            return "unreachable";
        }
        try {
            await this.opts.control.stop(u.id);
        } catch (e) {
            this.log({ event: "suspend.user", user: u.id, action: "error", stage: "stop", error: (e as Error).message });
            return "error";
        }
        this.upSince.delete(u.id);
        this.log({ event: "suspend.user", user: u.id, action: "suspended", reason: verdict.reason, idle_s: Math.round(verdict.idleForMs / 1000) });
        return "suspended";
    }
}
