/**
 * Reading a session's event log for the checks: user turns in order, and whether the parent chain
 * forked. Every persisted event carries `id` and `parentId`; a linear session has at most one child
 * per parent. Two servers writing one session at once each append a branch to the same parent
 * (measured: two `session.resume` events with one parent) — that is a fork.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

export interface ChainEvent {
    readonly type: string;
    readonly id: string;
    readonly parentId?: string | null;
    readonly data?: unknown;
}

export interface Fork {
    readonly parentId: string;
    readonly children: readonly string[];
}

/** Parents with more than one child. Empty for a linear session. */
export function findForks(events: readonly ChainEvent[]): Fork[] {
    const children = new Map<string, string[]>();
    for (const e of events) {
        if (!e.parentId) continue;
        const list = children.get(e.parentId) ?? [];
        list.push(e.id);
        children.set(e.parentId, list);
    }
    return [...children.entries()].filter(([, c]) => c.length > 1).map(([parentId, c]) => ({ parentId, children: c }));
}

/** The text of each user message, in log order. */
export function userPrompts(events: readonly ChainEvent[]): string[] {
    return events
        .filter((e) => e.type === "user.message")
        .map((e) => {
            const d = e.data as { content?: unknown } | undefined;
            return typeof d?.content === "string" ? d.content : "";
        });
}

/** The assistant replies, in log order. */
export function assistantReplies(events: readonly ChainEvent[]): string[] {
    return events
        .filter((e) => e.type === "assistant.message")
        .map((e) => {
            const d = e.data as { content?: unknown } | undefined;
            return typeof d?.content === "string" ? d.content : "";
        });
}

/** `session-state/<id>/events.jsonl` as written on disk (local fleet: outputs.sessionStatePath). */
export function readEventsFile(sessionStatePath: string, sessionId: string): ChainEvent[] {
    const text = readFileSync(path.join(sessionStatePath, sessionId, "events.jsonl"), "utf8");
    return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as ChainEvent);
}
