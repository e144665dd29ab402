/**
 * The plain arguments a consumer passes to a fleet component (any Pulumi language: no class
 * instances, functions or unions, so `pulumi package add` can infer a schema from them), and the
 * pure functions that turn them into the internal CLI server spec and egress plan.
 */
import * as pulumi from "@pulumi/pulumi";
import { EgressEndpoint, EgressPlan, egressPlan } from "./egress";
import { CleanupSettings } from "./cleanup";
import { buildServerSpec, ModelCredential, SECRET_KEYS, ServerSpec, TelemetryProtocol, TelemetrySettings } from "./server";

/** Default OTLP encoding when `telemetry.protocol` is not set. */
export const DEFAULT_TELEMETRY_PROTOCOL: TelemetryProtocol = "http/protobuf";

/** CPU and memory of each CLI server container, as Kubernetes quantities. Each field defaults to DEFAULT_RESOURCES. */
export interface ServerResourcesArgs {
    /** Default `250m`. */
    readonly cpuRequest?: string;
    /** Default `2`. */
    readonly cpuLimit?: string;
    /** Default `512Mi` (idle ~300 MB plus ~50 active sessions, measured). */
    readonly memoryRequest?: string;
    /** Default `2Gi`. */
    readonly memoryLimit?: string;
}

/** OpenTelemetry export of the CLI's traces and metrics to an OTLP/HTTP endpoint. Default: off. */
export interface TelemetryArgs {
    /** Base URL of the collector, e.g. `http://otel-collector.monitoring:4318`; the CLI appends `/v1/traces` and `/v1/metrics`. */
    readonly otlpEndpoint: string;
    /** `http/protobuf` (default) or `http/json`. */
    readonly protocol?: TelemetryProtocol;
    /** Also export prompts, replies and tool arguments (they can hold code and secrets). Default false. */
    readonly captureContent?: boolean;
    /** Extra OpenTelemetry resource attributes (keys `[A-Za-z0-9._-]`, not `service.name`/`service.instance.id`). Default none. */
    readonly resourceAttributes?: Record<string, string>;
}

/** Session cleanup: sessions not modified for `ttlHours` are deleted. Default: no cleanup. */
export interface SessionCleanupArgs {
    /** Delete sessions not modified for this many hours. */
    readonly ttlHours: number;
    /** How often the cleanup runs, in minutes (divisors of an hour, or whole hours that divide a day). Default 60. */
    readonly intervalMinutes?: number;
    /** List what would be deleted, delete nothing. Default false. */
    readonly dryRun?: boolean;
    /** The cleanup container's CPU and memory. Default CLEANUP_RESOURCES. */
    readonly resources?: ServerResourcesArgs;
}

/** Settings of the CLI servers every fleet component takes, all optional. */
export interface ServerSettingsArgs {
    /**
     * Service GitHub token every server holds (`COPILOT_GITHUB_TOKEN`, a secret). Default none: the
     * servers hold no model credential and clients pass `provider` (BYOK) or each user's `gitHubToken`
     * on every session create and resume.
     */
    readonly githubToken?: pulumi.Input<string>;
    /** `--session-idle-timeout <seconds>`. Default: the CLI's own (no flag). */
    readonly sessionIdleTimeoutSeconds?: number;
    /** CPU and memory of each server. Default DEFAULT_RESOURCES (250m/2 CPU, 512Mi/2Gi). */
    readonly resources?: ServerResourcesArgs;
    /** OpenTelemetry export. Default off. Its endpoint is admitted by the egress rules. */
    readonly telemetry?: TelemetryArgs;
    /** Private ranges (CIDR) the servers may reach on any port, besides DNS and the public internet on 443. Default none. */
    readonly egressAllowedCidrs?: string[];
    /** URLs the servers must reach besides the public internet on 443, e.g. a BYOK provider's base URL; each gets the narrowest egress rule its URL allows. Default none. */
    readonly egressEndpoints?: string[];
}

/** `TelemetryArgs` with its defaults applied. */
export function telemetrySettings(t: TelemetryArgs | undefined): TelemetrySettings | undefined {
    if (t === undefined) return undefined;
    return {
        otlpEndpoint: t.otlpEndpoint,
        protocol: t.protocol ?? DEFAULT_TELEMETRY_PROTOCOL,
        captureContent: t.captureContent ?? false,
        resourceAttributes: t.resourceAttributes ?? {},
    };
}

/** The credential kind a server's spec is built for: only whether it holds a GitHub token changes the spec. */
export function credentialKind(githubToken: pulumi.Input<string> | undefined): ModelCredential["kind"] {
    return githubToken !== undefined ? "githubToken" : "perSession";
}

/** The CLI server spec for these settings and credential kind. */
export function serverSpecFromArgs(args: ServerSettingsArgs, kind: ModelCredential["kind"]): ServerSpec {
    return buildServerSpec({
        credential: { kind },
        sessionIdleTimeoutSeconds: args.sessionIdleTimeoutSeconds,
        resources: args.resources,
        telemetry: telemetrySettings(args.telemetry),
    });
}

/**
 * The CLI server spec for each credential kind, built once per kind (two at most: a GitHub token on
 * the server, or none), not once per user.
 */
export function serverSpecsFromArgs(args: ServerSettingsArgs): (kind: ModelCredential["kind"]) => ServerSpec {
    const specs = new Map<ModelCredential["kind"], ServerSpec>();
    return (kind) => {
        let s = specs.get(kind);
        if (s === undefined) {
            s = serverSpecFromArgs(args, kind);
            specs.set(kind, s);
        }
        return s;
    };
}

/** The egress plan for these settings: the allowed ranges, the listed endpoints and the telemetry collector. */
export function egressPlanFromArgs(args: ServerSettingsArgs): EgressPlan {
    const endpoints: EgressEndpoint[] = (args.egressEndpoints ?? []).map((url) => ({ source: "egressEndpoints", url }));
    if (args.telemetry) endpoints.push({ source: "telemetry.otlpEndpoint", url: args.telemetry.otlpEndpoint });
    return egressPlan(args.egressAllowedCidrs ?? [], endpoints);
}

/** `SessionCleanupArgs` as the cleanup spec builder takes them. */
export function cleanupSettingsFromArgs(c: SessionCleanupArgs | undefined): CleanupSettings | undefined {
    return c === undefined ? undefined : { ttlHours: c.ttlHours, intervalMinutes: c.intervalMinutes, dryRun: c.dryRun, resources: c.resources };
}

/** One user of a per-user fleet, as a consumer passes it. */
export interface UserArgs {
    /** Lowercase DNS label of at most 40 characters, unique in the fleet; names every object of this user. */
    readonly id: string;
    /** This user's own GitHub token (a secret). Default: the fleet's `githubToken`, else none (BYOK / per-session tokens). */
    readonly githubToken?: pulumi.Input<string>;
    /** Scale this user's server to zero, keeping their session storage. Default false. */
    readonly suspended?: boolean;
}

/** The model credential a user's server holds: their own GitHub token, else the fleet's. */
export function userCredentialKind(user: Pick<UserArgs, "githubToken">, fleetGithubToken: pulumi.Input<string> | undefined): ModelCredential["kind"] {
    return credentialKind(user.githubToken ?? fleetGithubToken);
}

/** A server's secret values by secret key (the spec's `secretEnv`): its connection token, and the GitHub token when it holds one. */
export function serverSecrets(connectionToken: pulumi.Input<string>, githubToken: pulumi.Input<string> | undefined): Record<string, pulumi.Input<string>> {
    const data: Record<string, pulumi.Input<string>> = { [SECRET_KEYS.connectionToken]: connectionToken };
    if (githubToken !== undefined) data[SECRET_KEYS.githubToken] = githubToken;
    return data;
}

/** Contents of a user's Secret: their own connection token, and their GitHub token (else the service token; BYOK: none). */
export function userSecretData(
    token: pulumi.Input<string>,
    user: Pick<UserArgs, "githubToken">,
    fleetGithubToken: pulumi.Input<string> | undefined,
): Record<string, pulumi.Input<string>> {
    return serverSecrets(token, user.githubToken ?? fleetGithubToken);
}
