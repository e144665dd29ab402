/**
 * Is a user's server idle? Decided only from what the server itself reports over its API (CLI 1.0.102,
 * measured on the real binary):
 *
 * - `session.list` gives every stored session with `modifiedTime`, which moves when a turn starts
 *   (the user message is written) and when it ends. It does not move while a turn waits on the model
 *   or on a long tool run, so it alone cannot tell a long turn from an idle session.
 * - `session.metadata.activity {sessionId}` answers `hasActiveWork: true` for a session with a turn or
 *   task in flight, from any connection, and "Session not found" for a session the server does not
 *   have open. It has no side effect (it does not open the session or move `modifiedTime`).
 *
 * A server is idle when no session has active work and neither the newest `modifiedTime` nor the
 * moment the server was last seen starting is within the idle window. Anything the suspender cannot
 * read (connect refused, a garbled answer) counts as "not idle": a server is never stopped on a guess.
 */
import { RpcConnection, RpcError } from "./rpc";

export interface SessionActivity {
    readonly sessionId: string;
    /** ms since the epoch; NaN when the server's value did not parse. */
    readonly modifiedMs: number;
    /** A turn or background task is in flight (`hasActiveWork`). */
    readonly active: boolean;
}

export interface ServerActivity {
    readonly sessions: readonly SessionActivity[];
    /** Newest `modifiedTime` of any session, ms since the epoch; undefined when it has no sessions. */
    readonly lastModifiedMs?: number;
    /** Some session has a turn or task in flight. */
    readonly active: boolean;
}

/** Reads the server's sessions and which of them have work in flight (one connection, 1 + N requests). */
export async function readServerActivity(endpoint: string, token: string, timeoutMs = 5000): Promise<ServerActivity> {
    const c = await RpcConnection.open(endpoint, token, timeoutMs);
    try {
        const list = (await c.call("session.list", {})) as { sessions?: unknown } | null;
        if (!Array.isArray(list?.sessions)) throw new Error("session.list: answer has no sessions array");
        const sessions: SessionActivity[] = [];
        for (const s of list.sessions as Array<{ sessionId?: unknown; modifiedTime?: unknown }>) {
            if (typeof s?.sessionId !== "string") throw new Error("session.list: a session has no sessionId");
            const modifiedMs = typeof s.modifiedTime === "string" ? Date.parse(s.modifiedTime) : NaN;
            let active = false;
            try {
                const a = (await c.call("session.metadata.activity", { sessionId: s.sessionId })) as { hasActiveWork?: unknown } | null;
                active = a?.hasActiveWork === true;
            } catch (e) {
                // Not open on this server: nothing can be in flight in it. Any other error is not an answer.
                if (!(e instanceof RpcError && /session not found/i.test(e.message))) throw e;
            }
            sessions.push({ sessionId: s.sessionId, modifiedMs, active });
        }
        const times = sessions.map((s) => s.modifiedMs).filter((t) => Number.isFinite(t));
        return { sessions, lastModifiedMs: times.length > 0 ? Math.max(...times) : undefined, active: sessions.some((s) => s.active) };
    } finally {
        c.close();
    }
}

export interface IdleVerdict {
    readonly idle: boolean;
    /** Why, for the log line. */
    readonly reason: string;
    /** ms since the last activity the decision counted (session or server start). */
    readonly idleForMs: number;
}

/**
 * The decision, pure. `upSinceMs`: when this server was last seen starting (or woken); a server that
 * has just started is given the whole window, so a wake is never undone before its first turn.
 */
export function idleVerdict(activity: ServerActivity, nowMs: number, idleMs: number, upSinceMs: number): IdleVerdict {
    if (activity.active) {
        const ids = activity.sessions.filter((s) => s.active).map((s) => s.sessionId);
        return { idle: false, reason: `turn in flight in ${ids.join(", ")}`, idleForMs: 0 };
    }
    if (activity.sessions.some((s) => !Number.isFinite(s.modifiedMs))) return { idle: false, reason: "a session's modifiedTime did not parse", idleForMs: 0 };
    const last = Math.max(activity.lastModifiedMs ?? -Infinity, upSinceMs);
    const idleForMs = Math.max(0, nowMs - last);
    if (idleForMs < idleMs) {
        const what = activity.lastModifiedMs !== undefined && activity.lastModifiedMs >= upSinceMs ? "last session activity" : "server start";
        return { idle: false, reason: `${what} ${Math.round(idleForMs / 1000)} s ago (window ${Math.round(idleMs / 1000)} s)`, idleForMs };
    }
    return { idle: true, reason: `no session activity for ${Math.round(idleForMs / 1000)} s, nothing in flight (${activity.sessions.length} sessions)`, idleForMs };
}
