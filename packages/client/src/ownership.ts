/**
 * Session ids that carry their owner, so a backend can refuse to resume another user's session.
 *
 * Format: `u1-<owner tag>-<random>`, both parts 32 lowercase hex digits. The owner tag is the first
 * 128 bits of SHA-256 over a domain-separated user id, so:
 * - no user id can spoof another by embedding separators (`"alice:x"`, `"alice/.."`): the whole user
 *   id is hashed, and comparison is on the fixed-length tag, never on prefixes;
 * - the id holds no personal data (session ids become directory names on shared storage and appear in
 *   `listSessions()`);
 * - lowercase hex keeps ids distinct on case-insensitive shares (Azure Files over SMB).
 * The tag is not a secret; ownership is enforced by your backend checking it, not by the id being hard
 * to guess. Pass a `secret` (HMAC key) if tags must not be computable from a known user id.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const VERSION = "u1";
const TAG_HEX = 32;
const RANDOM_HEX = 32;
const OWNED_ID = /^u1-([0-9a-f]{32})-([0-9a-f]{32})$/;
const DOMAIN = "copilot-fleet/session-owner/v1\0";
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface OwnershipOptions {
    /** HMAC key for owner tags. Default none (plain SHA-256). All replicas of your backend must use the same one. */
    secret?: string | Buffer;
}

/** The session does not belong to the user, or is not an owned session id at all. */
export class SessionOwnershipError extends Error {
    constructor(
        readonly sessionId: string,
        message: string,
    ) {
        super(message);
        this.name = "SessionOwnershipError";
    }
}

function checkUserId(userId: string): void {
    if (typeof userId !== "string" || userId.length === 0) throw new TypeError("userId must be a non-empty string");
    // Lone surrogates would be replaced by U+FFFD when encoded, making distinct ids hash alike.
    if (LONE_SURROGATE.test(userId)) throw new TypeError("userId must be well-formed Unicode (no lone surrogates)");
}

/** The 32-hex owner tag of `userId`. */
export function ownerTag(userId: string, opts: OwnershipOptions = {}): string {
    checkUserId(userId);
    const h = opts.secret === undefined ? createHash("sha256") : createHmac("sha256", opts.secret);
    return h.update(DOMAIN).update(userId, "utf8").digest("hex").slice(0, TAG_HEX);
}

/** A fresh session id owned by `userId`; pass it as `sessionId` to `client.createSession`. */
export function ownedSessionId(userId: string, opts: OwnershipOptions = {}): string {
    return `${VERSION}-${ownerTag(userId, opts)}-${randomBytes(RANDOM_HEX / 2).toString("hex")}`;
}

/** True if `sessionId` has the owned-id shape. */
export function isOwnedSessionId(sessionId: string): boolean {
    return typeof sessionId === "string" && OWNED_ID.test(sessionId);
}

/** The owner tag inside `sessionId`, or undefined if it is not an owned session id. */
export function ownerOf(sessionId: string): string | undefined {
    if (typeof sessionId !== "string") return undefined;
    return OWNED_ID.exec(sessionId)?.[1];
}

/** Exact, constant-time check that `sessionId` was made by `ownedSessionId(userId)` (same `secret`). */
export function isOwnedBy(sessionId: string, userId: string, opts: OwnershipOptions = {}): boolean {
    const tag = ownerOf(sessionId);
    if (tag === undefined) return false;
    const want = ownerTag(userId, opts);
    return timingSafeEqual(Buffer.from(tag, "ascii"), Buffer.from(want, "ascii"));
}

/** Throws `SessionOwnershipError` unless `sessionId` belongs to `userId`. The message never echoes user ids. */
export function assertOwner(sessionId: string, userId: string, opts: OwnershipOptions = {}): void {
    if (!isOwnedSessionId(sessionId)) {
        throw new SessionOwnershipError(sessionId, `session "${String(sessionId).slice(0, 80)}" is not an owned session id; refusing to resume it`);
    }
    if (!isOwnedBy(sessionId, userId, opts)) {
        throw new SessionOwnershipError(sessionId, `session "${sessionId}" does not belong to this user; refusing to resume it`);
    }
}

/** The structural slice of `CopilotClient` we need, so tests and wrappers can pass a client of their own. */
export interface ResumingClient<S, C> {
    resumeSession(sessionId: string, config: C): Promise<S>;
}

/**
 * Checks ownership, then `client.resumeSession(sessionId, config)`. Nothing reaches the server when
 * the check fails. With BYOK, `config` must carry `provider` (and `model`) on every resume.
 */
export async function resumeOwnedSession<S, C>(
    client: ResumingClient<S, C>,
    userId: string,
    sessionId: string,
    config: C,
    opts: OwnershipOptions = {},
): Promise<S> {
    assertOwner(sessionId, userId, opts);
    return client.resumeSession(sessionId, config);
}

/** Keeps the sessions (from `client.listSessions()`) that belong to `userId`. */
export function sessionsOwnedBy<T extends { sessionId: string }>(sessions: readonly T[], userId: string, opts: OwnershipOptions = {}): T[] {
    const want = ownerTag(userId, opts);
    return sessions.filter((s) => ownerOf(s.sessionId) === want);
}
