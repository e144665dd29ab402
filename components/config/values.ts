/**
 * Value parsers and checks shared by every key: enums, booleans, bounded numbers, JSON lists and
 * maps, DNS labels, exact versions, Kubernetes quantities and pinned image references. Each reports
 * through the Collector, naming the key.
 */
import type { ConfigKey } from "./keys";
import { Collector, HIDDEN_BECAUSE, show } from "./issues";

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const EXACT_VERSION = /^\d+\.\d+\.\d+$/;

/**
 * An image reference must be pinned: by digest (`repo@sha256:<64 hex>`) or by an explicit tag other
 * than `latest`. Returns a reason when it is not.
 */
export function imageReferenceProblem(ref: string): string | undefined {
    if (ref.trim() !== ref || ref === "" || /\s/.test(ref)) return "it is empty or contains whitespace";
    const at = ref.indexOf("@");
    if (at >= 0) {
        return /^sha256:[0-9a-f]{64}$/.test(ref.slice(at + 1)) ? undefined : "its digest is not sha256:<64 hex digits>";
    }
    const lastSlash = ref.lastIndexOf("/");
    const colon = ref.indexOf(":", lastSlash + 1);
    if (colon < 0) return "it has no tag or digest (an unpinned image moves under you)";
    const tag = ref.slice(colon + 1);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return `its tag ${show(tag)} is not a valid tag`;
    if (tag === "latest") return 'its tag is "latest" (it moves under you)';
    return undefined;
}

/**
 * A release mirror URL: https, or http to a loopback host only (a mirror on the build machine). The
 * build verifies the tarball against SHA256SUMS.txt from the same place, so the transport is what
 * stands between the two. Returns a reason when it is not accepted.
 */
export function releaseBaseUrlProblem(url: string): string | undefined {
    let u: URL;
    try {
        u = new URL(url);
    } catch {
        return 'it is not a URL; use e.g. "https://mirror.example.com/copilot-cli/releases/v1.0.102"';
    }
    if (u.username !== "" || u.password !== "") return "it carries credentials; put them in the mirror's access rules, not in stack config";
    if (u.search !== "" || u.hash !== "") return "it has a query or fragment; the build appends /SHA256SUMS.txt and the asset name to it";
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
    if (u.protocol === "https:" || (u.protocol === "http:" && loopback)) return undefined;
    return 'use https:// (http:// only to localhost, 127.0.0.1 or [::1])';
}

export function parseJson(c: Collector, key: ConfigKey, text: string, expected: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        const hidden = HIDDEN_BECAUSE[key];
        // Never the parser's own message either: V8 quotes the text it failed on.
        if (hidden !== undefined) c.add(key, `is not valid JSON; use ${expected} (set it with \`pulumi config set --path\` or in YAML). The text is not shown: ${hidden}`);
        else c.add(key, `${show(text)} is not ${expected} (set it with \`pulumi config set --path\` or as a YAML ${expected})`);
        return undefined;
    }
}

/** Whether `v` is one of `accepted`; reports under `key` when it is not. */
export function checkEnum(c: Collector, key: string, v: unknown, accepted: readonly string[]): boolean {
    if (typeof v === "string" && accepted.includes(v)) return true;
    c.add(key, `${show(v)} is not accepted; use one of ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
    return false;
}

export function parseEnum<T extends string>(c: Collector, key: ConfigKey, raw: string | undefined, accepted: readonly T[], dflt: T): T {
    if (raw === undefined) return dflt;
    return checkEnum(c, key, raw, accepted) ? (raw as T) : dflt;
}

export function parseBool(c: Collector, key: ConfigKey, raw: string | undefined, dflt: boolean): boolean {
    if (raw === undefined) return dflt;
    if (raw === "true") return true;
    if (raw === "false") return false;
    c.add(key, `${show(raw)} is not a boolean; use true or false`);
    return dflt;
}

/** Bounds of a numeric key or argument. */
export interface NumberBounds {
    readonly integer: boolean;
    readonly min: number;
    readonly max: number;
}

/** `n` when it is a number within `bounds`; reports under `key`, showing `shown` (the text as written), when it is not. */
export function checkNumber(c: Collector, key: string, n: unknown, bounds: NumberBounds, shown: unknown = n): number | undefined {
    const ok = typeof n === "number" && Number.isFinite(n) && (!bounds.integer || Number.isInteger(n)) && n >= bounds.min && n <= bounds.max;
    if (!ok) {
        c.add(key, `${show(shown)} is not accepted; use ${bounds.integer ? "an integer" : "a number"} from ${bounds.min} to ${bounds.max}`);
        return undefined;
    }
    return n;
}

export function parseNumber(c: Collector, key: ConfigKey, raw: string | undefined, bounds: NumberBounds): number | undefined {
    if (raw === undefined) return undefined;
    return checkNumber(c, key, raw.trim() === "" ? NaN : Number(raw), bounds, raw);
}

export function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseStringList(c: Collector, key: ConfigKey, raw: string | undefined): string[] | undefined {
    if (raw === undefined) return undefined;
    const value = parseJson(c, key, raw, "a list");
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        c.add(key, `${show(raw)} is not a list of strings`);
        return undefined;
    }
    return value as string[];
}

export function parseStringMap(c: Collector, key: ConfigKey, raw: string | undefined): Record<string, string> {
    if (raw === undefined) return {};
    const value = parseJson(c, key, raw, "an object");
    if (value === undefined) return {};
    if (!isObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
        c.add(key, `${show(raw)} is not an object of string values`);
        return {};
    }
    return value as Record<string, string>;
}

