import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { pickReplica, rankReplicas, rendezvousScore } from "@copilot-fleet/client";

const replicas = (n: number, prefix = "replica-"): { name: string; endpoint: string }[] =>
    Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, endpoint: `127.0.0.1:${5000 + i}` }));
const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `session-${i}-${(i * 2654435761) % 1000003}`);

describe("rendezvous routing", () => {
    it("scores with SHA-256 over a length-prefixed (key, name) encoding", () => {
        // Independent recomputation: other clients (any language) must be able to reproduce the order.
        const key = "u1-abc";
        const name = "replica-0";
        const k = Buffer.from(key);
        const n = Buffer.from(name);
        const len = Buffer.alloc(8);
        len.writeUInt32BE(k.length, 0);
        len.writeUInt32BE(n.length, 4);
        const want = createHash("sha256").update(Buffer.concat([len, k, n])).digest().readBigUInt64BE(0);
        expect(rendezvousScore(key, name)).toBe(want);
        // The length prefix keeps ("a:b","c") and ("a","b:c") apart, unlike plain concatenation.
        expect(rendezvousScore("a:b", "c")).not.toBe(rendezvousScore("a", "b:c"));
        expect(rendezvousScore("ab", "c")).not.toBe(rendezvousScore("a", "bc"));
    });

    it("is deterministic and independent of the input order", () => {
        const rs = replicas(7);
        const shuffled = [rs[3], rs[6], rs[0], rs[5], rs[1], rs[4], rs[2]].filter((r): r is (typeof rs)[number] => r !== undefined);
        for (const k of keys(200)) {
            const a = rankReplicas(k, rs).map((r) => r.name);
            expect(rankReplicas(k, rs).map((r) => r.name)).toEqual(a);
            expect(rankReplicas(k, shuffled).map((r) => r.name)).toEqual(a);
            expect(pickReplica(k, shuffled).name).toBe(a[0]);
            expect(new Set(a).size).toBe(7);
        }
    });

    it("rejects an empty list in pickReplica and duplicate names everywhere", () => {
        expect(() => pickReplica("s1", [])).toThrow(/no replicas to route session "s1"/);
        expect(rankReplicas("s1", [])).toEqual([]);
        expect(() => rankReplicas("s1", [{ name: "a" }, { name: "a" }])).toThrow(/duplicate replica name "a"/);
    });

    it("spreads sessions evenly (each replica within ±10% of its fair share over 40 000 keys)", () => {
        const rs = replicas(8);
        const counts = new Map<string, number>(rs.map((r) => [r.name, 0]));
        const ks = keys(40_000);
        for (const k of ks) {
            const n = pickReplica(k, rs).name;
            counts.set(n, (counts.get(n) ?? 0) + 1);
        }
        const fair = ks.length / rs.length;
        for (const [, c] of counts) {
            expect(Math.abs(c - fair) / fair).toBeLessThan(0.1);
        }
    });

    it("adding a replica moves only ~1/(N+1) of the sessions, all of them to the new replica", () => {
        const before = replicas(5);
        const added = { name: "replica-new", endpoint: "127.0.0.1:6000" };
        const after = [...before, added];
        const ks = keys(30_000);
        let moved = 0;
        for (const k of ks) {
            const a = pickReplica(k, before).name;
            const b = pickReplica(k, after).name;
            if (a !== b) {
                moved++;
                expect(b).toBe(added.name);
            }
        }
        const fraction = moved / ks.length;
        expect(Math.abs(fraction - 1 / 6)).toBeLessThan(0.015);
    });

    it("removing a replica moves exactly the sessions it had (~1/N), and each goes to its second choice", () => {
        const before = replicas(6);
        const removed = "replica-2";
        const after = before.filter((r) => r.name !== removed);
        const ks = keys(30_000);
        let moved = 0;
        for (const k of ks) {
            const ranked = rankReplicas(k, before).map((r) => r.name);
            const b = pickReplica(k, after).name;
            if (ranked[0] === removed) {
                moved++;
                expect(b).toBe(ranked[1]);
            } else {
                expect(b).toBe(ranked[0]);
            }
        }
        expect(Math.abs(moved / ks.length - 1 / 6)).toBeLessThan(0.015);
    });
});
