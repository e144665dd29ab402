import { describe, expect, it } from "vitest";
import {
    assertOwner,
    isOwnedBy,
    isOwnedSessionId,
    ownedSessionId,
    ownerOf,
    ownerTag,
    resumeOwnedSession,
    SessionOwnershipError,
    sessionsOwnedBy,
} from "@copilot-fleet/client";

/** Session ids the CLI accepts (measured: 1.0.102 rejects ".", ":", "/", spaces, non-ASCII). */
const CLI_SESSION_ID = /^[A-Za-z0-9_-]+$/;

const hostile = [
    "alice:x",
    "alice:",
    ":alice",
    "alice/x",
    "alice/../bob",
    "alice.x",
    "alice|x",
    "alice\0",
    "alice ",
    " alice",
    "ALICE",
    "alicé",
    "alice\u0301",
    "аlice", // Cyrillic а
    "alice-" + "0".repeat(32),
    "u1-" + "0".repeat(32),
];

describe("owned session ids", () => {
    it("round-trip: the owner matches, ids are fresh, and the shape is one the CLI accepts", () => {
        const a = ownedSessionId("alice");
        const b = ownedSessionId("alice");
        expect(a).not.toBe(b);
        for (const id of [a, b, ownedSessionId("bob@example.com"), ownedSessionId("用户/1:2")]) {
            expect(id).toMatch(/^u1-[0-9a-f]{32}-[0-9a-f]{32}$/);
            expect(id).toMatch(CLI_SESSION_ID);
            expect(isOwnedSessionId(id)).toBe(true);
        }
        expect(isOwnedBy(a, "alice")).toBe(true);
        expect(ownerOf(a)).toBe(ownerTag("alice"));
        expect(() => assertOwner(a, "alice")).not.toThrow();
        expect(isOwnedBy(ownedSessionId("用户/1:2"), "用户/1:2")).toBe(true);
    });

    it("separator and look-alike user ids never match alice's sessions, and alice never matches theirs", () => {
        const alices = Array.from({ length: 5 }, () => ownedSessionId("alice"));
        const tags = new Set([ownerTag("alice")]);
        for (const u of hostile) {
            tags.add(ownerTag(u));
            const theirs = ownedSessionId(u);
            for (const s of alices) {
                expect(isOwnedBy(s, u)).toBe(false);
                expect(() => assertOwner(s, u)).toThrow(SessionOwnershipError);
            }
            expect(isOwnedBy(theirs, "alice")).toBe(false);
            expect(isOwnedBy(theirs, u)).toBe(true);
        }
        // Every hostile id got its own tag (no collisions among them).
        expect(tags.size).toBe(hostile.length + 1);
    });

    it("ids built by splicing a user id into the text are not owned by anyone", () => {
        const tag = ownerTag("alice");
        const forged = [
            `u1-${tag}-x`,
            `u1-${tag}`,
            `u1-${tag}-${"0".repeat(32)}-extra`,
            `u1-${tag.toUpperCase()}-${"0".repeat(32)}`,
            `alice:${"0".repeat(32)}`,
            `u1-alice-${"0".repeat(32)}`,
            ` u1-${tag}-${"0".repeat(32)}`,
            `u1-${tag}-${"0".repeat(32)}\n`,
            "",
        ];
        for (const f of forged) {
            expect(isOwnedSessionId(f)).toBe(false);
            expect(ownerOf(f)).toBeUndefined();
            expect(isOwnedBy(f, "alice")).toBe(false);
            expect(() => assertOwner(f, "alice")).toThrow(/not an owned session id/);
        }
    });

    it("rejects empty and malformed user ids instead of hashing them", () => {
        expect(() => ownedSessionId("")).toThrow(/non-empty/);
        expect(() => ownerTag("")).toThrow(/non-empty/);
        expect(() => isOwnedBy(ownedSessionId("alice"), "")).toThrow(/non-empty/);
        // "\uD800" and "\uDBFF" would both encode to U+FFFD and collide.
        expect(() => ownedSessionId("a\uD800")).toThrow(/well-formed/);
        expect(() => ownedSessionId("a\uDC00b")).toThrow(/well-formed/);
    });

    it("with a secret, tags differ from the unkeyed ones and only the same secret matches", () => {
        const id = ownedSessionId("alice", { secret: "k1" });
        expect(isOwnedBy(id, "alice", { secret: "k1" })).toBe(true);
        expect(isOwnedBy(id, "alice")).toBe(false);
        expect(isOwnedBy(id, "alice", { secret: "k2" })).toBe(false);
    });

    it("resumeOwnedSession checks before calling resumeSession, and passes config through", async () => {
        const calls: { id: string; config: { provider: { baseUrl: string } } }[] = [];
        const client = {
            resumeSession: async (id: string, config: { provider: { baseUrl: string } }) => {
                calls.push({ id, config });
                return { sessionId: id };
            },
        };
        const config = { provider: { baseUrl: "http://127.0.0.1:1/v1" } };
        const mine = ownedSessionId("alice");
        await expect(resumeOwnedSession(client, "alice:x", mine, config)).rejects.toBeInstanceOf(SessionOwnershipError);
        await expect(resumeOwnedSession(client, "alice", "not-owned", config)).rejects.toBeInstanceOf(SessionOwnershipError);
        expect(calls).toHaveLength(0);
        expect(await resumeOwnedSession(client, "alice", mine, config)).toEqual({ sessionId: mine });
        expect(calls).toEqual([{ id: mine, config }]);
    });

    it("sessionsOwnedBy filters a listSessions() result exactly", () => {
        const a1 = ownedSessionId("alice");
        const a2 = ownedSessionId("alice");
        const x = ownedSessionId("alice:x");
        const list = [{ sessionId: a1 }, { sessionId: x }, { sessionId: "ddceac8d-a1b5-4635-949f-9868ba7c16d0" }, { sessionId: a2 }];
        expect(sessionsOwnedBy(list, "alice").map((s) => s.sessionId)).toEqual([a1, a2]);
        expect(sessionsOwnedBy(list, "alice:x").map((s) => s.sessionId)).toEqual([x]);
    });
});
