/**
 * How configuration mistakes are collected and reported: every problem at once, each naming its key,
 * and never a value of a key that holds or may hold a secret (only its JSON type).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConfigKey } from "./keys";

/** A configuration mistake: `key`, the offending value (as the user wrote it; for secret-bearing keys only its JSON type) and what is accepted. */
export interface ConfigIssue {
    readonly key: string;
    readonly message: string;
}

/**
 * Thrown before any resource is registered. A `RunError`, so Pulumi prints the message without a
 * stack trace: the message is the whole story.
 */
export class ConfigError extends pulumi.RunError {
    readonly issues: readonly ConfigIssue[];
    constructor(issues: readonly ConfigIssue[]) {
        super(
            `Invalid copilot-fleet configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
                issues.map((i) => `  - ${i.message}`).join("\n"),
        );
        this.name = "ConfigError";
        this.issues = issues;
    }
}

export const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

/** What a value is, never what it holds: for messages about secret-bearing keys. */
export function shapeOf(v: unknown): string {
    if (v === undefined) return "missing";
    if (v === null) return "null";
    if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
    if (typeof v === "string") return v === "" ? "an empty string" : "a string";
    if (typeof v === "object") return "an object";
    return typeof v === "number" ? "a number" : typeof v === "boolean" ? "a boolean" : `a ${typeof v}`;
}

/** Credential-shaped text (GitHub and OpenAI-style prefixes, or long mixed-case base62): never echoed, even in a field that is not secret. */
export function looksLikeToken(s: string): boolean {
    return /^(gh[a-z]_|github_pat_|sk[-_])/i.test(s) || (s.length >= 20 && /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s));
}

/** A non-secret string field of a secret-bearing key (a user id, a provider type or URL): shown when it is plain text, else only its shape. */
export function showField(v: unknown): string {
    if (typeof v === "string" && v !== "" && /^[\x20-\x7e]{1,100}$/.test(v) && !looksLikeToken(v) && !/[@?#]/.test(v)) return JSON.stringify(v);
    return `(${shapeOf(v)}${typeof v === "string" && v !== "" ? ", not shown: it may be a credential" : ""})`;
}

/** Unknown field names of a secret-bearing key; a name that could be a pasted token is counted, not shown. */
export function showFieldNames(names: readonly string[]): string {
    const plain = names.filter((k) => /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(k) && !looksLikeToken(k));
    const hidden = names.length - plain.length;
    const shown = plain.map((k) => JSON.stringify(k));
    if (hidden > 0) shown.push(`${hidden} whose name${hidden === 1 ? " is" : "s are"} not shown`);
    return shown.join(", ");
}

/** Why a secret-bearing key's text is not in the message. */
export const HIDDEN_BECAUSE: Partial<Record<ConfigKey, string>> = {
    users: "users can hold GitHub tokens",
    provider: "provider holds the API key",
    // Not a secret key (headers are refused), but a refused headers field carries the backend's credentials.
    telemetry: "a headers field would carry credentials",
};


export class Collector {
    readonly issues: ConfigIssue[] = [];
    add(key: string, message: string): void {
        this.issues.push({ key, message: `${key}: ${message}` });
    }
}
