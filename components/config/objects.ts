/**
 * The object-valued keys (JSON in the stack config): users, provider, telemetry and resources. The
 * first two can hold credentials, so their messages show field values only when they are plain text
 * (issues.ts showField) and never a token or key.
 */
import * as pulumi from "@pulumi/pulumi";
import { QUANTITY } from "../contract/quantities";
import { ServerResources, TELEMETRY_PROTOCOLS, TelemetryProtocol, TelemetrySettings } from "../contract/server";
import { Collector, shapeOf, show, showField, showFieldNames } from "./issues";
import { MAX_USER_ID_LENGTH, PROVIDER_TYPES, ProviderConfig, ProviderType, UserConfig } from "./keys";
import { DNS_LABEL, isObject, parseJson } from "./values";

const USER_SHAPE = "a user id string or an object { id, githubToken, suspended }";

/** `users`: may hold tokens, so messages show a user id (once it is valid text) and the JSON type of anything else. */
export function parseUsers(c: Collector, raw: string | undefined): UserConfig[] {
    if (raw === undefined) return [];
    const value = parseJson(c, "users", raw, "a list");
    if (value === undefined) return [];
    return usersFrom(c, value, (i) => `: \`pulumi config set --path --secret 'users[${i}].githubToken' <token>\``).map((u) => ({
        ...u,
        githubToken: u.githubToken === undefined ? undefined : pulumi.secret(u.githubToken),
    }));
}

/**
 * The users in `value` (config JSON, or a component's `users` argument), each checked: shape, a
 * lowercase DNS-label id of at most MAX_USER_ID_LENGTH, unique ids, a non-empty trimmed token. A token
 * that is an Output (a component argument) is passed through unread. `tokenHint` ends the message
 * about a bad token with how to set it again.
 */
export function usersFrom(
    c: Collector,
    value: unknown,
    tokenHint: (index: number) => string = () => "",
): { id: string; githubToken?: pulumi.Input<string>; suspended: boolean }[] {
    if (!Array.isArray(value)) {
        c.add("users", `is ${shapeOf(value)}, not a list; use a list in which each item is ${USER_SHAPE}`);
        return [];
    }
    const users: { id: string; githubToken?: pulumi.Input<string>; suspended: boolean }[] = [];
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
        if (pulumi.Output.isInstance(githubToken)) {
            // A component argument's secret: not readable here, and not this check's to read.
        } else if (githubToken !== undefined && (typeof githubToken !== "string" || githubToken === "")) {
            c.add("users", `${where}.githubToken (user ${show(id)}) is ${shapeOf(githubToken)}; use a non-empty string${tokenHint(i)}`);
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
        users.push({ id, suspended, githubToken: githubToken as pulumi.Input<string> | undefined });
    });
    return users;
}

const PROVIDER_FIELDS = ["type", "baseUrl", "model", "apiKey"];

/** `provider`: holds the API key, so messages show the type, URL and model only when they are plain text, and never apiKey. */
export function parseProvider(c: Collector, raw: string): ProviderConfig | undefined {
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

export function parseTelemetry(c: Collector, raw: string | undefined): TelemetrySettings | undefined {
    if (raw === undefined) return undefined;
    const value = parseJson(c, "telemetry", raw, "an object");
    return value === undefined ? undefined : telemetryFrom(c, value, raw);
}

/** `telemetry` (config JSON or a component's argument), checked and with its defaults; `shown` is the text as written. */
export function telemetryFrom(c: Collector, value: unknown, shown: unknown = value): TelemetrySettings | undefined {
    if (!isObject(value)) {
        c.add("telemetry", `${show(shown)} is not an object; use { otlpEndpoint, protocol, captureContent, resourceAttributes }`);
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


export function parseResources(c: Collector, raw: string | undefined): Partial<ServerResources> {
    if (raw === undefined) return {};
    const value = parseJson(c, "resources", raw, "an object");
    return value === undefined ? {} : resourcesFrom(c, "resources", value, raw);
}

/** CPU and memory (`resources`, `sessionCleanup.resources`): known fields, each a Kubernetes quantity; `shown` is the text as written. */
export function resourcesFrom(c: Collector, key: string, value: unknown, shown: unknown = value): Partial<ServerResources> {
    if (!isObject(value)) {
        c.add(key, `${show(shown)} is not an object`);
        return {};
    }
    const accepted = ["cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"];
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
        if (!accepted.includes(k)) {
            c.add(key, `unknown field ${JSON.stringify(k)}; accepted: ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
        } else if (typeof v !== "string" || !QUANTITY.test(v)) {
            c.add(`${key}.${k}`, `${show(v)} is not a Kubernetes quantity such as "500m", "1", "512Mi" or "2Gi"`);
        } else {
            out[k] = v;
        }
    }
    return out as Partial<ServerResources>;
}

