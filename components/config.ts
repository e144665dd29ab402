/**
 * Stack configuration: parsed and validated in one place, before any resource is registered.
 *
 * `parseFleetConfig` is pure (no Pulumi engine needed): it takes the raw strings Pulumi stores for
 * each key and returns typed, defaulted settings, or throws one `ConfigError` listing every mistake,
 * each naming the key, the bad value and what is accepted. Secret values come back wrapped with
 * `pulumi.secret` so they stay secret end to end, and no message shows a value of a key that holds
 * or may hold a secret (`SECRET_CONFIG_KEYS`): those name the path, the JSON type found and what is
 * accepted instead.
 */
import * as pulumi from "@pulumi/pulumi";
import { CredentialKind, Mode, Platform } from "./outputs";
import { egressAllowanceProblem } from "./egress";
import { CLEANUP_INTERVAL_HINT, CleanupSettings, DEFAULT_CLEANUP_INTERVAL_MINUTES, isCleanupInterval, ServerResources, TELEMETRY_PROTOCOLS, TelemetryProtocol, TelemetrySettings } from "./spec";

export const IMAGE_PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type ImagePlatform = (typeof IMAGE_PLATFORMS)[number];

/** The Copilot CLI version deployed when `cliVersion` is not set. Move it together with package.json's `@github/copilot`. */
export const DEFAULT_CLI_VERSION = "1.0.102";
export const DEFAULT_REPLICAS = 3;
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 50;
export const DEFAULT_NAMESPACE = "copilot-fleet";
export const DEFAULT_STORAGE_SIZE = "10Gi";
export const DEFAULT_SESSION_TTL_HOURS = 24;
export const MAX_USER_ID_LENGTH = 40;
export const PLATFORMS: readonly Platform[] = ["kubernetes", "aci", "docker"];
/** Platforms this version can deploy; the others are reserved names with a clear error. */
export const SUPPORTED_PLATFORMS: readonly Platform[] = ["kubernetes", "aci", "docker"];
export const MODES: readonly Mode[] = ["shared", "per-user"];
export const EXPOSURES = ["cluster", "internal", "public"] as const;
export type Exposure = (typeof EXPOSURES)[number];
export const DEFAULT_EXPOSURE: Exposure = "cluster";
/** `COPILOT_PROVIDER_TYPE` values the CLI accepts for BYOK. */
/** ACI: the fleet's virtual network when `vnetAddressSpace` is not set (split into the server and edge subnets). */
export const DEFAULT_VNET_ADDRESS_SPACE = "10.42.0.0/16";
/** ACI: `vnetAddressSpace` prefix lengths accepted; the two subnets are its first two quarters (/18 … /26). */
export const MIN_VNET_PREFIX = 8;
export const MAX_VNET_PREFIX = 24;
/** Keys that only mean something on Kubernetes; ACI refuses them rather than ignore them. */
const KUBERNETES_ONLY_KEYS: readonly ConfigKey[] = ["storageClass", "namespace", "createNamespace", "serviceAnnotations", "clientAffinity"];
/** Keys that only mean something on ACI. */
const ACI_ONLY_KEYS: readonly ConfigKey[] = ["location", "resourceGroupName", "vnetAddressSpace"];
/** `COPILOT_PROVIDER_TYPE` values the CLI accepts for BYOK. */
export const PROVIDER_TYPES = ["openai", "azure", "anthropic"] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];
/**
 * `credentials`: where the model credential lives. "githubToken": a service token on every server;
 * "provider": BYOK, clients pass it; "perSession": the servers hold none, apps pass each user's own
 * GitHub token (`gitHubToken`) on every create and resume. Unset: taken from githubToken / provider.
 */
export const CREDENTIAL_KINDS: readonly CredentialKind[] = ["githubToken", "provider", "perSession"];

/** Every key this package reads, in one list (Pulumi.yaml documents each). */
export const CONFIG_KEYS = [
    "platform",
    "mode",
    "replicas",
    "users",
    "cliVersion",
    "image",
    "imageRepository",
    "imagePlatform",
    "githubToken",
    "provider",
    "credentials",
    "connectionToken",
    "exposure",
    "allowedCidrs",
    "egressAllowedCidrs",
    "redis",
    "sessionTtlHours",
    "sessionCleanupIntervalMinutes",
    "sessionIdleTimeoutSeconds",
    "storageClass",
    "storageSize",
    "namespace",
    "createNamespace",
    "clientAffinity",
    "serviceAnnotations",
    "resources",
    "telemetry",
    "location",
    "resourceGroupName",
    "vnetAddressSpace",
    "protectSessionState",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/**
 * Keys that hold a secret or may (a user's `githubToken` inside `users`, `apiKey` inside `provider`).
 * readRawConfig reads them with `getSecret`, and no error message shows their values, whole or in part.
 */
export const SECRET_CONFIG_KEYS: readonly ConfigKey[] = ["githubToken", "connectionToken", "provider", "users"];

/** Raw values as Pulumi stores them: strings (objects and lists are JSON text). */
export type RawConfig = Partial<Record<ConfigKey, string>>;

export interface UserConfig {
    /** Lowercase DNS label, at most 40 characters; names every resource of this user. */
    readonly id: string;
    /** That user's own GitHub token (secret); falls back to the service token or BYOK provider. */
    readonly githubToken?: pulumi.Output<string>;
    /** Suspended users' servers scale to zero; their session storage is kept. */
    readonly suspended: boolean;
}

export interface ProviderConfig {
    readonly type: ProviderType;
    readonly baseUrl: string;
    readonly model: string;
    readonly apiKey?: pulumi.Output<string>;
}

export type CredentialConfig =
    | { readonly kind: "githubToken"; readonly githubToken: pulumi.Output<string> }
    | { readonly kind: "provider"; readonly provider: ProviderConfig }
    /** The servers hold no model credential; every session carries its user's GitHub token. */
    | { readonly kind: "perSession" };

export interface FleetConfig {
    readonly platform: Platform;
    readonly mode: Mode;
    /** Shared mode only. */
    readonly replicas: number;
    /** Per-user mode only. */
    readonly users: readonly UserConfig[];
    readonly cliVersion: string;
    /** Prebuilt image reference; when set nothing is built. */
    readonly image?: string;
    /** Where the built image is pushed (`registry.example.com/copilot-cli`); needed by cluster platforms when `image` is unset. */
    readonly imageRepository?: string;
    /** Platform the image is built for. */
    readonly imagePlatform: ImagePlatform;
    readonly credential: CredentialConfig;
    /** When absent a token is generated per fleet (per user in per-user mode). */
    readonly connectionToken?: pulumi.Output<string>;
    readonly exposure: Exposure;
    readonly allowedCidrs: readonly string[];
    /** Private ranges the servers may reach (any port) besides DNS and the public internet; default none. Not on Docker. */
    readonly egressAllowedCidrs: readonly string[];
    readonly redis: boolean;
    /** Sessions not modified for this long are deleted by the session cleanup. */
    readonly sessionTtlHours: number;
    /** How often the session cleanup runs (a cron schedule on Kubernetes, a sleep loop elsewhere). */
    readonly sessionCleanupIntervalMinutes: number;
    readonly sessionIdleTimeoutSeconds?: number;
    readonly storageClass?: string;
    readonly storageSize: string;
    readonly namespace: string;
    readonly createNamespace: boolean;
    readonly clientAffinity: boolean;
    readonly serviceAnnotations: Readonly<Record<string, string>>;
    readonly resources: Partial<ServerResources>;
    /** OpenTelemetry export from every server; absent means off. */
    readonly telemetry?: TelemetrySettings;
    /** ACI: Azure region; unset means the azure-native provider's `location`. */
    readonly location?: string;
    /** ACI: an existing resource group to deploy into; unset means one is created per stack. */
    readonly resourceGroupName?: string;
    /** ACI: the fleet's virtual network (IPv4 CIDR, /8 to /24). */
    readonly vnetAddressSpace: string;
    /** `protect` on the session-state storage (claims, shares and account, volumes); default true on kubernetes and aci, false on docker. */
    readonly protectSessionState: boolean;
}

/** The session-cleanup settings every platform takes from the stack's config (TTL and interval). */
export function cleanupSettings(cfg: Pick<FleetConfig, "sessionTtlHours" | "sessionCleanupIntervalMinutes">): CleanupSettings {
    return { ttlHours: cfg.sessionTtlHours, intervalMinutes: cfg.sessionCleanupIntervalMinutes };
}

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

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const EXACT_VERSION = /^\d+\.\d+\.\d+$/;
/** Kubernetes resource.Quantity (binary and decimal suffixes). */
const QUANTITY = /^([0-9]+(\.[0-9]+)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

/** What a value is, never what it holds: for messages about secret-bearing keys. */
function shapeOf(v: unknown): string {
    if (v === undefined) return "missing";
    if (v === null) return "null";
    if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
    if (typeof v === "string") return v === "" ? "an empty string" : "a string";
    if (typeof v === "object") return "an object";
    return typeof v === "number" ? "a number" : typeof v === "boolean" ? "a boolean" : `a ${typeof v}`;
}

/** Credential-shaped text (GitHub and OpenAI-style prefixes, or long mixed-case base62): never echoed, even in a field that is not secret. */
function looksLikeToken(s: string): boolean {
    return /^(gh[a-z]_|github_pat_|sk[-_])/i.test(s) || (s.length >= 20 && /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s));
}

/** A non-secret string field of a secret-bearing key (a user id, a provider type or URL): shown when it is plain text, else only its shape. */
function showField(v: unknown): string {
    if (typeof v === "string" && v !== "" && /^[\x20-\x7e]{1,100}$/.test(v) && !looksLikeToken(v) && !/[@?#]/.test(v)) return JSON.stringify(v);
    return `(${shapeOf(v)}${typeof v === "string" && v !== "" ? ", not shown: it may be a credential" : ""})`;
}

/** Unknown field names of a secret-bearing key; a name that could be a pasted token is counted, not shown. */
function showFieldNames(names: readonly string[]): string {
    const plain = names.filter((k) => /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(k) && !looksLikeToken(k));
    const hidden = names.length - plain.length;
    const shown = plain.map((k) => JSON.stringify(k));
    if (hidden > 0) shown.push(`${hidden} whose name${hidden === 1 ? " is" : "s are"} not shown`);
    return shown.join(", ");
}

/** Why a secret-bearing key's text is not in the message. */
const HIDDEN_BECAUSE: Partial<Record<ConfigKey, string>> = {
    users: "users can hold GitHub tokens",
    provider: "provider holds the API key",
    // Not a secret key (headers are refused), but a refused headers field carries the backend's credentials.
    telemetry: "a headers field would carry credentials",
};

/** `true` for a valid IPv4 or IPv6 CIDR such as `203.0.113.0/24` or `2001:db8::/32`. */
export function isCidr(value: string): boolean {
    const slash = value.indexOf("/");
    if (slash < 0 || value.indexOf("/", slash + 1) >= 0) return false;
    const addr = value.slice(0, slash);
    const prefixText = value.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return false;
    const prefix = Number(prefixText);
    if (isIpv4(addr)) return prefix <= 32;
    if (isIpv6(addr)) return prefix <= 128;
    return false;
}

function isIpv4(addr: string): boolean {
    const parts = addr.split(".");
    return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

function isIpv6(addr: string): boolean {
    if (!/^[0-9a-fA-F:.]+$/.test(addr) || addr.includes(":::")) return false;
    const halves = addr.split("::");
    if (halves.length > 2) return false;
    const groups = (s: string) => (s === "" ? [] : s.split(":"));
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const all = [...head, ...tail];
    // An embedded IPv4 tail (::ffff:192.0.2.1) counts as two groups.
    let count = all.length;
    const last = all[all.length - 1];
    if (last !== undefined && last.includes(".")) {
        if (!isIpv4(last)) return false;
        count += 1;
        all.pop();
    }
    if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
    return halves.length === 2 ? count < 8 : count === 8;
}

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

class Collector {
    readonly issues: ConfigIssue[] = [];
    add(key: string, message: string): void {
        this.issues.push({ key, message: `${key}: ${message}` });
    }
}

function parseJson(c: Collector, key: ConfigKey, text: string, expected: string): unknown {
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

function parseEnum<T extends string>(c: Collector, key: ConfigKey, raw: string | undefined, accepted: readonly T[], dflt: T): T {
    if (raw === undefined) return dflt;
    if ((accepted as readonly string[]).includes(raw)) return raw as T;
    c.add(key, `${show(raw)} is not accepted; use one of ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
    return dflt;
}

function parseBool(c: Collector, key: ConfigKey, raw: string | undefined, dflt: boolean): boolean {
    if (raw === undefined) return dflt;
    if (raw === "true") return true;
    if (raw === "false") return false;
    c.add(key, `${show(raw)} is not a boolean; use true or false`);
    return dflt;
}

function parseNumber(c: Collector, key: ConfigKey, raw: string | undefined, opts: { integer: boolean; min: number; max: number }): number | undefined {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    const ok = raw.trim() !== "" && Number.isFinite(n) && (!opts.integer || Number.isInteger(n)) && n >= opts.min && n <= opts.max;
    if (!ok) {
        c.add(key, `${show(raw)} is not accepted; use ${opts.integer ? "an integer" : "a number"} from ${opts.min} to ${opts.max}`);
        return undefined;
    }
    return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

const USER_SHAPE = "a user id string or an object { id, githubToken, suspended }";

/** `users`: may hold tokens, so messages show a user id (once it is valid text) and the JSON type of anything else. */
function parseUsers(c: Collector, raw: string | undefined): UserConfig[] {
    if (raw === undefined) return [];
    const value = parseJson(c, "users", raw, "a list");
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
        c.add("users", `is ${shapeOf(value)}, not a list; use a list in which each item is ${USER_SHAPE}`);
        return [];
    }
    const users: UserConfig[] = [];
    const seen = new Set<string>();
    value.forEach((entry: unknown, i: number) => {
        const where = `users[${i}]`;
        let id: unknown;
        let githubToken: unknown;
        let suspended: unknown = false;
        if (typeof entry === "string") {
            id = entry;
        } else if (isObject(entry)) {
            const unknownKeys = Object.keys(entry).filter((k) => !["id", "githubToken", "suspended"].includes(k));
            if (unknownKeys.length > 0) {
                c.add("users", `${where} has unknown field(s) ${showFieldNames(unknownKeys)}; accepted: "id", "githubToken", "suspended"`);
            }
            ({ id, githubToken, suspended = false } = entry);
        } else {
            c.add("users", `${where} is ${shapeOf(entry)}; use ${USER_SHAPE}`);
            return;
        }
        if (typeof id !== "string" || !DNS_LABEL.test(id) || id.length > MAX_USER_ID_LENGTH) {
            c.add(
                "users",
                `${where}.id ${showField(id)} is not accepted; a user id must be a lowercase DNS label ` +
                    `(a-z, 0-9 and "-", starting and ending with a letter or digit) of at most ${MAX_USER_ID_LENGTH} characters`,
            );
            return;
        }
        if (seen.has(id)) {
            c.add("users", `user id ${show(id)} appears more than once; each user id must be unique`);
            return;
        }
        seen.add(id);
        if (githubToken !== undefined && (typeof githubToken !== "string" || githubToken === "")) {
            c.add("users", `${where}.githubToken (user ${show(id)}) is ${shapeOf(githubToken)}; use a non-empty string: \`pulumi config set --path --secret 'users[${i}].githubToken' <token>\``);
            return;
        }
        if (typeof githubToken === "string" && githubToken.trim() !== githubToken) {
            c.add("users", `${where}.githubToken (user ${show(id)}) has leading or trailing whitespace (a pasted newline?); set it again without`);
            return;
        }
        if (typeof suspended !== "boolean") {
            c.add("users", `${where}.suspended (user ${show(id)}) is ${shapeOf(suspended)}; use true or false (unquoted)`);
            return;
        }
        users.push({ id, suspended, githubToken: githubToken === undefined ? undefined : pulumi.secret(githubToken as string) });
    });
    return users;
}

const PROVIDER_FIELDS = ["type", "baseUrl", "model", "apiKey"];

/** `provider`: holds the API key, so messages show the type, URL and model only when they are plain text, and never apiKey. */
function parseProvider(c: Collector, raw: string): ProviderConfig | undefined {
    const value = parseJson(c, "provider", raw, "an object");
    if (value === undefined) return undefined;
    if (!isObject(value)) {
        c.add("provider", `is ${shapeOf(value)}, not an object; use { type, baseUrl, model, apiKey } (apiKey as a secret)`);
        return undefined;
    }
    const unknownKeys = Object.keys(value).filter((k) => !PROVIDER_FIELDS.includes(k));
    if (unknownKeys.length > 0) {
        c.add("provider", `unknown field(s) ${showFieldNames(unknownKeys)}; accepted: ${PROVIDER_FIELDS.map((f) => JSON.stringify(f)).join(", ")}`);
    }
    const { type = "openai", baseUrl, model, apiKey } = value;
    let ok = true;
    if (typeof type !== "string" || !(PROVIDER_TYPES as readonly string[]).includes(type)) {
        c.add("provider.type", `${showField(type)} is not accepted; use one of ${PROVIDER_TYPES.map((t) => JSON.stringify(t)).join(", ")}`);
        ok = false;
    }
    if (baseUrl === undefined || baseUrl === "") {
        c.add("provider.baseUrl", "is required with provider: the model endpoint's base URL, e.g. https://example.openai.azure.com/openai/v1");
        ok = false;
    } else if (typeof baseUrl !== "string" || !/^https?:\/\/[^\s/]+/.test(baseUrl)) {
        c.add("provider.baseUrl", `${showField(baseUrl)} is not accepted; use an http:// or https:// URL`);
        ok = false;
    }
    if (model === undefined || model === "") {
        c.add("provider.model", "is required with provider: the model name the provider serves, e.g. gpt-4.1");
        ok = false;
    } else if (typeof model !== "string") {
        c.add("provider.model", `${showField(model)} is not accepted; use a model name string`);
        ok = false;
    }
    if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey === "")) {
        c.add("provider.apiKey", `is ${shapeOf(apiKey)}; use a non-empty string: \`pulumi config set --path --secret provider.apiKey <key>\``);
        ok = false;
    } else if (typeof apiKey === "string" && apiKey.trim() !== apiKey) {
        c.add("provider.apiKey", "has leading or trailing whitespace (a pasted newline?); set it again without");
        ok = false;
    }
    if (!ok) return undefined;
    return {
        type: type as ProviderType,
        baseUrl: baseUrl as string,
        model: model as string,
        apiKey: apiKey === undefined ? undefined : pulumi.secret(apiKey as string),
    };
}

const TELEMETRY_FIELDS = ["otlpEndpoint", "protocol", "captureContent", "resourceAttributes"];
/** Attributes the fleet sets per server; a stack-wide value would merge every replica into one. */
const RESERVED_RESOURCE_ATTRIBUTES = ["service.name", "service.instance.id"];

function parseTelemetry(c: Collector, raw: string | undefined): TelemetrySettings | undefined {
    if (raw === undefined) return undefined;
    const value = parseJson(c, "telemetry", raw, "an object");
    if (value === undefined) return undefined;
    if (!isObject(value)) {
        c.add("telemetry", `${show(raw)} is not an object; use { otlpEndpoint, protocol, captureContent, resourceAttributes }`);
        return undefined;
    }
    let ok = true;
    for (const k of Object.keys(value).filter((f) => !TELEMETRY_FIELDS.includes(f))) {
        ok = false;
        c.add(
            "telemetry",
            k === "headers"
                ? 'unknown field "headers": the servers send to an OpenTelemetry Collector inside your network, and the collector holds the backend\'s credentials, so no secret reaches the servers'
                : `unknown field ${JSON.stringify(k)}; accepted: ${TELEMETRY_FIELDS.map((f) => JSON.stringify(f)).join(", ")}`,
        );
    }
    const { otlpEndpoint, protocol = "http/protobuf", captureContent = false, resourceAttributes = {} } = value;
    if (otlpEndpoint === undefined || otlpEndpoint === "") {
        c.add("telemetry.otlpEndpoint", "is required with telemetry: the OTLP/HTTP base URL of your collector, e.g. http://otel-collector.monitoring:4318");
        ok = false;
    } else if (typeof otlpEndpoint === "string" && /^[a-z]+:\/\/[^/?#]*@/i.test(otlpEndpoint)) {
        // Credentials in the URL would sit in every server's environment; the collector holds them instead.
        c.add("telemetry.otlpEndpoint", "carries credentials (user:password@host; not shown); remove them: the collector inside your network holds the backend's credentials");
        ok = false;
    } else if (typeof otlpEndpoint !== "string" || !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(otlpEndpoint)) {
        c.add("telemetry.otlpEndpoint", `${show(otlpEndpoint)} is not accepted; use an http:// or https:// base URL without query, e.g. http://otel-collector.monitoring:4318`);
        ok = false;
    }
    if (typeof protocol !== "string" || !(TELEMETRY_PROTOCOLS as readonly string[]).includes(protocol)) {
        const hint = protocol === "grpc" ? " (the CLI exports OTLP over HTTP only; point it at the collector's HTTP port, usually 4318)" : "";
        c.add("telemetry.protocol", `${show(protocol)} is not accepted; use one of ${TELEMETRY_PROTOCOLS.map((p) => JSON.stringify(p)).join(", ")}${hint}`);
        ok = false;
    }
    if (typeof captureContent !== "boolean") {
        c.add("telemetry.captureContent", `${show(captureContent)} is not a boolean; use true or false (default false: prompts and replies stay out of telemetry)`);
        ok = false;
    }
    if (!isObject(resourceAttributes) || !Object.values(resourceAttributes).every((v) => typeof v === "string")) {
        c.add("telemetry.resourceAttributes", `${show(resourceAttributes)} is not an object of string values, e.g. { "deployment.environment.name": "prod" }`);
        ok = false;
    } else {
        for (const k of Object.keys(resourceAttributes)) {
            if (RESERVED_RESOURCE_ATTRIBUTES.includes(k)) {
                c.add("telemetry.resourceAttributes", `${JSON.stringify(k)} is set by the fleet for each server; remove it`);
                ok = false;
            } else if (!/^[A-Za-z0-9._-]{1,255}$/.test(k)) {
                c.add("telemetry.resourceAttributes", `key ${show(k)} is not accepted; use letters, digits, ".", "_" and "-"`);
                ok = false;
            }
        }
    }
    if (!ok) return undefined;
    return {
        otlpEndpoint: otlpEndpoint as string,
        protocol: protocol as TelemetryProtocol,
        captureContent: captureContent as boolean,
        resourceAttributes: resourceAttributes as Record<string, string>,
    };
}

function parseStringList(c: Collector, key: ConfigKey, raw: string | undefined): string[] | undefined {
    if (raw === undefined) return undefined;
    const value = parseJson(c, key, raw, "a list");
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        c.add(key, `${show(raw)} is not a list of strings`);
        return undefined;
    }
    return value as string[];
}

function parseStringMap(c: Collector, key: ConfigKey, raw: string | undefined): Record<string, string> {
    if (raw === undefined) return {};
    const value = parseJson(c, key, raw, "an object");
    if (value === undefined) return {};
    if (!isObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
        c.add(key, `${show(raw)} is not an object of string values`);
        return {};
    }
    return value as Record<string, string>;
}

function parseResources(c: Collector, raw: string | undefined): Partial<ServerResources> {
    if (raw === undefined) return {};
    const value = parseJson(c, "resources", raw, "an object");
    if (!isObject(value)) {
        if (value !== undefined) c.add("resources", `${show(raw)} is not an object`);
        return {};
    }
    const accepted = ["cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"];
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
        if (!accepted.includes(k)) {
            c.add("resources", `unknown field ${JSON.stringify(k)}; accepted: ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
        } else if (typeof v !== "string" || !QUANTITY.test(v)) {
            c.add(`resources.${k}`, `${show(v)} is not a Kubernetes quantity such as "500m", "1", "512Mi" or "2Gi"`);
        } else {
            out[k] = v;
        }
    }
    return out as Partial<ServerResources>;
}

/** `credentials`, githubToken and provider together: exactly one model credential, stated or implied. */
function parseCredential(c: Collector, raw: RawConfig, mode: Mode, users: readonly UserConfig[]): CredentialConfig | undefined {
    const hasGithubToken = raw.githubToken !== undefined && raw.githubToken !== "";
    const hasProvider = raw.provider !== undefined;
    const stated = raw.credentials === undefined ? undefined : parseEnum<CredentialKind | "">(c, "credentials", raw.credentials, CREDENTIAL_KINDS, "");
    if (stated === "") return undefined;
    if (stated === "perSession") {
        const perSession = 'credentials is "perSession" (the servers hold no model credential; apps pass each user\'s gitHubToken on every create and resume)';
        let ok = true;
        if (hasGithubToken) {
            c.add("githubToken", `is set, but ${perSession}; remove githubToken, or remove credentials to put this service token on every server`);
            ok = false;
        }
        if (hasProvider) {
            c.add("provider", `is set, but ${perSession}; the CLI refuses a session that carries both a GitHub token and a provider, so remove one of provider and credentials`);
            ok = false;
        }
        const withToken = users.filter((u) => u.githubToken !== undefined).map((u) => u.id);
        if (mode === "per-user" && withToken.length > 0) {
            c.add("users", `${withToken.map((u) => JSON.stringify(u)).join(", ")} ${withToken.length === 1 ? "has" : "have"} a githubToken, but ${perSession}; remove users[].githubToken or credentials`);
            ok = false;
        }
        return ok ? { kind: "perSession" } : undefined;
    }
    if (hasGithubToken && hasProvider) {
        c.add("githubToken", "and provider are both set; choose one model credential: githubToken (the servers hold a service token) or provider (BYOK; clients pass it)");
        return undefined;
    }
    if (stated === "githubToken" && !hasGithubToken) {
        c.add("githubToken", 'is required with credentials "githubToken": `pulumi config set --secret githubToken <token>` (or use credentials "provider" or "perSession")');
        return undefined;
    }
    if (stated === "provider" && !hasProvider) {
        c.add("provider", 'is required with credentials "provider": `pulumi config set --path provider.baseUrl <url>` (+ provider.model), or use credentials "githubToken" or "perSession"');
        return undefined;
    }
    if (!hasGithubToken && !hasProvider) {
        c.add(
            "githubToken",
            "is not set and neither is provider; set one: `pulumi config set --secret githubToken <token>` or `pulumi config set --path provider.baseUrl <url>` (+ provider.model), " +
                'or `pulumi config set credentials perSession` (apps pass each user\'s GitHub token)',
        );
        return undefined;
    }
    if (hasGithubToken && (raw.githubToken as string).trim() !== raw.githubToken) {
        c.add("githubToken", "has leading or trailing whitespace (a pasted newline?); set it again without: `pulumi config set --secret githubToken <token>`");
        return undefined;
    }
    if (hasGithubToken) return { kind: "githubToken", githubToken: pulumi.secret(raw.githubToken as string) };
    const provider = parseProvider(c, raw.provider as string);
    return provider ? { kind: "provider", provider } : undefined;
}

/** Parse and validate every key; throws `ConfigError` listing every problem found. */
export function parseFleetConfig(raw: RawConfig): FleetConfig {
    const c = new Collector();

    const platform = parseEnum(c, "platform", raw.platform, PLATFORMS, "kubernetes");
    if (raw.platform !== undefined && PLATFORMS.includes(platform) && platform === raw.platform && !SUPPORTED_PLATFORMS.includes(platform)) {
        c.add(
            "platform",
            `${show(raw.platform)} is not supported yet by this version of copilot-fleet; supported now: ` +
                SUPPORTED_PLATFORMS.map((p) => JSON.stringify(p)).join(", "),
        );
    }
    const mode = parseEnum(c, "mode", raw.mode, MODES, "shared");

    const replicasParsed = parseNumber(c, "replicas", raw.replicas, { integer: true, min: MIN_REPLICAS, max: MAX_REPLICAS });
    if (mode === "per-user" && raw.replicas !== undefined) {
        c.add("replicas", `${show(raw.replicas)} is set, but replicas applies to mode "shared" only; per-user mode runs one server per user (remove the key)`);
    }
    const replicas = replicasParsed ?? DEFAULT_REPLICAS;

    const users = parseUsers(c, raw.users);
    if (mode === "per-user" && raw.users === undefined) {
        c.add("users", 'is required with mode "per-user": a list of user ids (lowercase DNS labels), e.g. ["alice","bob"]');
    } else if (mode === "per-user" && raw.users !== undefined && users.length === 0 && c.issues.every((i) => i.key !== "users")) {
        c.add("users", 'is an empty list; mode "per-user" needs at least one user id');
    }
    if (mode === "shared" && raw.users !== undefined) {
        c.add("users", 'is set, but users applies to mode "per-user" only; set mode to "per-user" or remove the key');
    }

    let cliVersion = DEFAULT_CLI_VERSION;
    if (raw.cliVersion !== undefined) {
        if (EXACT_VERSION.test(raw.cliVersion)) cliVersion = raw.cliVersion;
        else c.add("cliVersion", `${show(raw.cliVersion)} is not accepted; use an exact version x.y.z such as "${DEFAULT_CLI_VERSION}" (no "latest", ranges or prefixes)`);
    }

    if (raw.image !== undefined) {
        const problem = imageReferenceProblem(raw.image);
        if (problem) c.add("image", `${show(raw.image)} is not accepted: ${problem}; use repo:exact-tag or repo@sha256:<digest>`);
    }

    if (raw.image !== undefined && raw.imageRepository !== undefined) {
        c.add("imageRepository", `is set together with image ${show(raw.image)}; with image nothing is built, so remove one of them`);
    }
    if (raw.imageRepository !== undefined && !/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(raw.imageRepository)) {
        c.add("imageRepository", `${show(raw.imageRepository)} is not a repository name; use e.g. "myregistry.azurecr.io/copilot-cli" (no tag)`);
    }
    if (platform === "kubernetes" && raw.image === undefined && raw.imageRepository === undefined) {
        c.add("image", 'is not set and neither is imageRepository; on platform "kubernetes" set image (a prebuilt, pinned reference) or imageRepository (a registry the cluster can pull from; the image is built and pushed there)');
    }
    const imagePlatform = parseEnum(c, "imagePlatform", raw.imagePlatform, IMAGE_PLATFORMS, "linux/amd64");

    const credential = parseCredential(c, raw, mode, users);

    let connectionToken: pulumi.Output<string> | undefined;
    if (raw.connectionToken !== undefined) {
        if (raw.connectionToken.length < 16) {
            c.add("connectionToken", "is shorter than 16 characters; use a long random value (or unset it and one is generated)");
        } else if (/\s/.test(raw.connectionToken)) {
            c.add("connectionToken", "contains whitespace (a pasted newline?); use a long random value without spaces (or unset it and one is generated)");
        } else if (mode === "per-user") {
            c.add("connectionToken", 'is set, but per-user mode generates one token per user so that no two users share one; remove the key');
        } else {
            connectionToken = pulumi.secret(raw.connectionToken);
        }
    }

    const exposure = parseEnum(c, "exposure", raw.exposure, EXPOSURES, DEFAULT_EXPOSURE);
    const allowedCidrs = parseStringList(c, "allowedCidrs", raw.allowedCidrs) ?? [];
    for (const cidr of allowedCidrs) {
        if (!isCidr(cidr)) c.add("allowedCidrs", `${show(cidr)} is not a CIDR; use ranges like "203.0.113.0/24" or "2001:db8::/32"`);
    }
    if (exposure === "public" && allowedCidrs.length === 0) {
        c.add("allowedCidrs", 'is required with exposure "public": the source ranges allowed to reach the load balancer, e.g. ["203.0.113.0/24"]');
    }
    if (exposure === "internal" && mode === "per-user" && allowedCidrs.length === 0) {
        c.add(
            "allowedCidrs",
            'is required with exposure "internal" in mode "per-user": without it the NetworkPolicies admit all private ranges, ' +
                "which on most CNIs include other users' pods; list your callers' ranges (excluding the pod network)",
        );
    }
    if (exposure === "cluster" && raw.allowedCidrs !== undefined) {
        c.add("allowedCidrs", 'is set, but exposure is "cluster" (no load balancer); set exposure to "internal" or "public", or remove the key');
    }

    const egressAllowedCidrs = parseStringList(c, "egressAllowedCidrs", raw.egressAllowedCidrs) ?? [];
    for (const cidr of egressAllowedCidrs) {
        const problem = isCidr(cidr) ? egressAllowanceProblem(cidr) : "is not a CIDR";
        if (problem !== undefined) {
            c.add("egressAllowedCidrs", `${show(cidr)} ${problem}; use the private ranges the servers must reach, like "10.20.0.0/24" (a private model endpoint) or "fd00:1::/64"`);
        }
    }
    if (platform === "docker" && raw.egressAllowedCidrs !== undefined) {
        c.add("egressAllowedCidrs", 'is set, but platform "docker" cannot restrict egress (containers reach every address the host routes to; see README "Egress"); remove the key');
    }

    const redis = parseBool(c, "redis", raw.redis, mode === "shared");
    const sessionTtlHours = parseNumber(c, "sessionTtlHours", raw.sessionTtlHours, { integer: true, min: 1, max: 24 * 365 }) ?? DEFAULT_SESSION_TTL_HOURS;
    let sessionCleanupIntervalMinutes = DEFAULT_CLEANUP_INTERVAL_MINUTES;
    if (raw.sessionCleanupIntervalMinutes !== undefined) {
        const n = Number(raw.sessionCleanupIntervalMinutes);
        if (raw.sessionCleanupIntervalMinutes.trim() !== "" && isCleanupInterval(n)) sessionCleanupIntervalMinutes = n;
        else c.add("sessionCleanupIntervalMinutes", `${show(raw.sessionCleanupIntervalMinutes)} is not accepted; use ${CLEANUP_INTERVAL_HINT}`);
    }
    const sessionIdleTimeoutSeconds = parseNumber(c, "sessionIdleTimeoutSeconds", raw.sessionIdleTimeoutSeconds, { integer: true, min: 60, max: 7 * 24 * 3600 });

    const storageSize = raw.storageSize ?? DEFAULT_STORAGE_SIZE;
    if (!QUANTITY.test(storageSize) || !/[KMGTPE]i?$/.test(storageSize)) {
        c.add("storageSize", `${show(storageSize)} is not accepted; use a Kubernetes quantity such as "10Gi" or "100Gi"`);
    }
    if (raw.storageClass !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(raw.storageClass)) {
        c.add("storageClass", `${show(raw.storageClass)} is not a valid StorageClass name (lowercase letters, digits, "-" and ".")`);
    }
    const namespace = raw.namespace ?? DEFAULT_NAMESPACE;
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
        c.add("namespace", `${show(namespace)} is not accepted; use a lowercase DNS label of at most 63 characters`);
    }
    const createNamespace = parseBool(c, "createNamespace", raw.createNamespace, true);
    const clientAffinity = parseBool(c, "clientAffinity", raw.clientAffinity, false);
    const serviceAnnotations = parseStringMap(c, "serviceAnnotations", raw.serviceAnnotations);
    const resources = parseResources(c, raw.resources);
    const telemetry = parseTelemetry(c, raw.telemetry);
    const aci = parseAciKeys(c, raw, platform, mode, redis);
    // Docker is the laptop stack: `pulumi destroy` there should clean up without a second step.
    const protectSessionState = parseBool(c, "protectSessionState", raw.protectSessionState, platform !== "docker");

    if (c.issues.length > 0 || credential === undefined) {
        throw new ConfigError(c.issues);
    }
    return {
        platform,
        mode,
        replicas,
        users,
        cliVersion,
        image: raw.image,
        imageRepository: raw.imageRepository,
        imagePlatform,
        credential,
        connectionToken,
        exposure,
        allowedCidrs,
        egressAllowedCidrs,
        redis,
        sessionTtlHours,
        sessionCleanupIntervalMinutes,
        sessionIdleTimeoutSeconds,
        storageClass: raw.storageClass,
        storageSize,
        namespace,
        createNamespace,
        clientAffinity,
        serviceAnnotations,
        resources,
        telemetry,
        ...aci,
        protectSessionState,
    };
}

/** Azure resource group names: 1–90 of letters, digits, `_`, `-`, `.`, `(`, `)`, not ending in `.`. */
const RESOURCE_GROUP_NAME = /^[-\w.()]{0,89}[-\w()]$/;
/** Azure region names as ARM spells them (`westeurope`, `eastus2`). */
const AZURE_LOCATION = /^[a-z][a-z0-9]{2,39}$/;

/** `vnetAddressSpace` problem, or undefined: an IPv4 network address with a /8–/24 prefix. */
export function vnetAddressSpaceProblem(cidr: string): string | undefined {
    if (!isCidr(cidr) || cidr.includes(":")) return "is not an IPv4 CIDR";
    const [addr, prefixText] = cidr.split("/");
    const prefix = Number(prefixText);
    if (prefix < MIN_VNET_PREFIX || prefix > MAX_VNET_PREFIX) return `has prefix /${prefix}; accepted /${MIN_VNET_PREFIX} to /${MAX_VNET_PREFIX} (the two subnets are its first two quarters)`;
    const n = addr.split(".").reduce((a, o) => a * 256 + Number(o), 0);
    if (n % 2 ** (32 - prefix) !== 0) return `is not a network address (host bits set after /${prefix})`;
    return undefined;
}

/** ACI keys, and the keys ACI refuses because they mean something only on Kubernetes. */
function parseAciKeys(
    c: Collector,
    raw: RawConfig,
    platform: Platform,
    mode: Mode,
    redis: boolean,
): Pick<FleetConfig, "location" | "resourceGroupName" | "vnetAddressSpace"> {
    if (platform !== "aci") {
        for (const key of ACI_ONLY_KEYS.filter((k) => raw[k] !== undefined)) {
            c.add(key, `${show(raw[key])} is set, but ${key} applies to platform "aci" only; remove the key`);
        }
        return { vnetAddressSpace: DEFAULT_VNET_ADDRESS_SPACE };
    }
    for (const key of KUBERNETES_ONLY_KEYS.filter((k) => raw[k] !== undefined)) {
        const why = key === "storageClass" ? "session state is an Azure Files share in the stack's storage account" : key === "clientAffinity" ? "the ACI load balancer balances by least connections; route by session id in the client" : "there is no Kubernetes object on ACI";
        c.add(key, `${show(raw[key])} is set, but ${key} applies to platform "kubernetes" only (${why}); remove the key`);
    }
    if (raw.imageRepository !== undefined) {
        c.add("imageRepository", `${show(raw.imageRepository)} is set, but on platform "aci" the image is pushed to the stack's own Azure Container Registry (pulled by managed identity); remove the key, or set image to a prebuilt public reference`);
    }
    if (raw.exposure === "public") {
        c.add(
            "exposure",
            '"public" is not supported on platform "aci": container groups in a virtual network get no public IP and an Azure Load Balancer cannot front them; ' +
                'use "internal" (allowedCidrs limits the callers) and put your own ingress (Application Gateway v2, a VPN or a peered network) in front',
        );
    }
    if (mode === "per-user" && redis && raw.redis !== undefined) {
        c.add("redis", 'true is not accepted with mode "per-user" on platform "aci": each user has a single server, so session locks are not needed; remove the key');
    }
    if (raw.location !== undefined && !AZURE_LOCATION.test(raw.location)) {
        c.add("location", `${show(raw.location)} is not an Azure region name; use the lowercase name ARM uses, e.g. "westeurope" or "eastus2" (\`az account list-locations -o table\`)`);
    }
    if (raw.resourceGroupName !== undefined && !RESOURCE_GROUP_NAME.test(raw.resourceGroupName)) {
        c.add("resourceGroupName", `${show(raw.resourceGroupName)} is not a resource group name: 1-90 letters, digits, "_", "-", ".", "(", ")", not ending in "."`);
    }
    const vnetAddressSpace = raw.vnetAddressSpace ?? DEFAULT_VNET_ADDRESS_SPACE;
    const vnetProblem = vnetAddressSpaceProblem(vnetAddressSpace);
    if (vnetProblem !== undefined) {
        c.add("vnetAddressSpace", `${show(vnetAddressSpace)} ${vnetProblem}; use e.g. "${DEFAULT_VNET_ADDRESS_SPACE}"`);
    }
    return { location: raw.location, resourceGroupName: raw.resourceGroupName, vnetAddressSpace };
}

/** The two reads readRawConfig makes of a Pulumi config bag (a `pulumi.Config`). */
export interface ConfigSource {
    get(key: string): string | undefined;
    getSecret(key: string): pulumi.Output<string> | undefined;
}

/** The value of an Output that is known now (config values always are, in previews too). */
function knownValue<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/**
 * Read every key's raw text from a Pulumi config bag (index.ts is the only caller).
 *
 * `SECRET_CONFIG_KEYS` are read with `getSecret`, never `get`: reading a secret as plain text is what
 * Pulumi's "use getSecret instead of get" warning flags (switched off in @pulumi/pulumi 3.x for now,
 * pulumi/pulumi#7127, meant to return). Their text is still needed to validate them before any
 * resource is registered, so their Outputs are awaited here, which never waits on a resource: a config
 * Output is known as soon as it is made. parseFleetConfig wraps every value it takes from them in
 * `pulumi.secret` again; the text lives only between this read and that parse.
 */
export async function readRawConfig(config: ConfigSource): Promise<RawConfig> {
    const raw: RawConfig = {};
    for (const key of CONFIG_KEYS) {
        if (SECRET_CONFIG_KEYS.includes(key)) {
            const secret = config.getSecret(key);
            if (secret !== undefined) raw[key] = await knownValue(secret);
        } else {
            const value = config.get(key);
            if (value !== undefined) raw[key] = value;
        }
    }
    return raw;
}
