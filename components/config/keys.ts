/**
 * Every stack-config key this package reads, its defaults and the typed settings the parser returns
 * (FleetConfig). Pulumi.yaml documents each key; README's config table lists them.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CleanupSettings } from "../contract/cleanup";
import type { CredentialKind, Mode, Platform } from "../contract/outputs";
import type { ServerResources, TelemetrySettings } from "../contract/server";

export const IMAGE_PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type ImagePlatform = (typeof IMAGE_PLATFORMS)[number];
export const DEFAULT_IMAGE_PLATFORM: ImagePlatform = "linux/amd64";

/** The Copilot CLI version deployed when `cliVersion` is not set. Move it together with package.json's `@github/copilot`. */
export const DEFAULT_CLI_VERSION = "1.0.102";
export const DEFAULT_REPLICAS = 3;
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 50;
export const DEFAULT_NAMESPACE = "copilot-fleet";
export const DEFAULT_STORAGE_SIZE = "10Gi";
export const DEFAULT_SESSION_TTL_HOURS = 24;
/** `replicas` (and the components' `replicas` argument). */
export const REPLICAS_BOUNDS = { integer: true, min: MIN_REPLICAS, max: MAX_REPLICAS } as const;
/** `sessionTtlHours` (the components' `sessionCleanup.ttlHours`): an hour to a year. */
export const SESSION_TTL_HOURS_BOUNDS = { integer: true, min: 1, max: 24 * 365 } as const;
/** `sessionIdleTimeoutSeconds`: a minute to a week. */
export const SESSION_IDLE_TIMEOUT_BOUNDS = { integer: true, min: 60, max: 7 * 24 * 3600 } as const;
export const MAX_USER_ID_LENGTH = 40;
/** `idleSuspendMinutes` bounds: at least one suspender round per minute of window, at most a week. */
export const MIN_IDLE_SUSPEND_MINUTES = 5;
export const MAX_IDLE_SUSPEND_MINUTES = 7 * 24 * 60;
export const IDLE_SUSPEND_MINUTES_BOUNDS = { integer: true, min: MIN_IDLE_SUSPEND_MINUTES, max: MAX_IDLE_SUSPEND_MINUTES } as const;
export const PLATFORMS: readonly Platform[] = ["kubernetes", "aci", "docker"];
export const MODES: readonly Mode[] = ["shared", "per-user"];
/** How the servers are reached. A const object (not only a union) so schema inference names it as an enum. */
export const Exposure = { cluster: "cluster", internal: "internal", public: "public" } as const;
export type Exposure = (typeof Exposure)[keyof typeof Exposure];
export const EXPOSURES = [Exposure.cluster, Exposure.internal, Exposure.public] as const;
export const DEFAULT_EXPOSURE: Exposure = "cluster";
/** ACI: the fleet's virtual network when `vnetAddressSpace` is not set (its quarters: servers, edge, idle suspender, yours). */
export const DEFAULT_VNET_ADDRESS_SPACE = "10.42.0.0/16";
/** ACI: `vnetAddressSpace` prefix lengths accepted; the fleet's subnets are its first three quarters (/18 … /26). */
export const MIN_VNET_PREFIX = 8;
export const MAX_VNET_PREFIX = 24;
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
    "imageBaseImage",
    "imageReleaseBaseUrl",
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
    "idleSuspendMinutes",
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
    /** Base image of the build (a registry's mirror of Debian bookworm slim); unset: the Dockerfile's pinned one. */
    readonly imageBaseImage?: string;
    /** Mirror of the CLI's GitHub release assets (SHA256SUMS.txt and tarballs); unset: GitHub releases. */
    readonly imageReleaseBaseUrl?: string;
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
    /** Per-user mode: stop a user's server after this many minutes without session activity (the idle suspender); absent means off. */
    readonly idleSuspendMinutes?: number;
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
