/**
 * Session-aware routing: rendezvous (highest-random-weight) hashing of a session id over replica
 * names. Every client computes the same order with no shared state, and adding or removing one of N
 * replicas moves only the sessions that must move (~1/N).
 */
import { createHash } from "node:crypto";

/** 64-bit score of (key, name): first 8 bytes of SHA-256 over a length-prefixed encoding, so ("a:b","c") ≠ ("a","b:c"). */
export function rendezvousScore(key: string, name: string): bigint {
    const k = Buffer.from(key, "utf8");
    const n = Buffer.from(name, "utf8");
    const len = Buffer.alloc(8);
    len.writeUInt32BE(k.length, 0);
    len.writeUInt32BE(n.length, 4);
    return createHash("sha256").update(len).update(k).update(n).digest().readBigUInt64BE(0);
}

/**
 * All replicas, best first, for `key` (a session id). Deterministic; ties (practically impossible)
 * break by name. Empty input gives an empty array; duplicate names are an error, because two entries
 * with one name would always score alike and make the order depend on input order.
 */
export function rankReplicas<T extends { name: string }>(key: string, replicas: readonly T[]): T[] {
    const seen = new Set<string>();
    for (const r of replicas) {
        if (seen.has(r.name)) throw new Error(`rankReplicas: duplicate replica name "${r.name}"`);
        seen.add(r.name);
    }
    return replicas
        .map((r) => ({ r, s: rendezvousScore(key, r.name) }))
        .sort((a, b) => (a.s === b.s ? (a.r.name < b.r.name ? -1 : a.r.name > b.r.name ? 1 : 0) : a.s > b.s ? -1 : 1))
        .map((x) => x.r);
}

/** The replica `key` belongs on. Throws on an empty list: there is nowhere to route. */
export function pickReplica<T extends { name: string }>(key: string, replicas: readonly T[]): T {
    if (replicas.length === 0) throw new Error(`pickReplica: no replicas to route session "${key}" to (the replica list is empty)`);
    const best = rankReplicas(key, replicas)[0];
    if (best === undefined) throw new Error("pickReplica: unreachable: ranking lost replicas");
    return best;
}
