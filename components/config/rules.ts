/**
 * The rules every platform shares: each key's own value, and the rules between keys (mode and
 * replicas/users, image and imageRepository, the one model credential, exposure and allowedCidrs,
 * egress allowances). Platform rules (./platforms/) add what only one platform accepts or needs.
 */
import * as pulumi from "@pulumi/pulumi";
import { isCidr } from "../contract/cidr";
import { CLEANUP_INTERVAL_HINT, DEFAULT_CLEANUP_INTERVAL_MINUTES, isCleanupInterval } from "../contract/cleanup";
import { egressAllowanceProblem } from "../contract/egress";
import type { CredentialKind, Mode } from "../contract/outputs";
import { QUANTITY } from "../contract/quantities";
import { Collector, show } from "./issues";
import {
    CREDENTIAL_KINDS,
    CredentialConfig,
    DEFAULT_CLI_VERSION,
    DEFAULT_EXPOSURE,
    DEFAULT_IMAGE_PLATFORM,
    DEFAULT_NAMESPACE,
    DEFAULT_REPLICAS,
    DEFAULT_SESSION_TTL_HOURS,
    DEFAULT_STORAGE_SIZE,
    EXPOSURES,
    FleetConfig,
    IMAGE_PLATFORMS,
    IDLE_SUSPEND_MINUTES_BOUNDS,
    REPLICAS_BOUNDS,
    SESSION_IDLE_TIMEOUT_BOUNDS,
    SESSION_TTL_HOURS_BOUNDS,
    MODES,
    PLATFORMS,
    RawConfig,
    UserConfig,
} from "./keys";
import { parseProvider, parseResources, parseTelemetry, parseUsers } from "./objects";
import { DNS_LABEL, EXACT_VERSION, imageReferenceProblem, parseBool, releaseBaseUrlProblem, parseEnum, parseNumber, parseStringList, parseStringMap } from "./values";

/** Settings only a platform's rules decide (./platforms/). */
export type PlatformSettings = Pick<FleetConfig, "location" | "resourceGroupName" | "vnetAddressSpace" | "protectSessionState">;

/** What the common rules return: everything but the platform's settings; `credential` is undefined when it was refused. */
export type CommonSettings = Omit<FleetConfig, keyof PlatformSettings | "credential"> & { readonly credential?: CredentialConfig };

/** `credentials`, githubToken and provider together: exactly one model credential, stated or implied. */
export function parseCredential(c: Collector, raw: RawConfig, mode: Mode, users: readonly UserConfig[]): CredentialConfig | undefined {
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


/*
 * Checks of one typed value (or a few together), each reporting under the key it is given. The stack
 * config's parser calls them with its keys, and the components' argument checks (./args.ts) with
 * the argument names, which are the same names, so a rule and its message exist once.
 */

/** `cliVersion`: an exact x.y.z. */
export function checkCliVersion(c: Collector, v: unknown, key = "cliVersion"): boolean {
    if (typeof v === "string" && EXACT_VERSION.test(v)) return true;
    c.add(key, `${show(v)} is not accepted; use an exact version x.y.z such as "${DEFAULT_CLI_VERSION}" (no "latest", ranges or prefixes)`);
    return false;
}

/** `image`: a pinned reference (values.ts imageReferenceProblem). */
export function checkImage(c: Collector, v: string, key = "image"): boolean {
    const problem = imageReferenceProblem(v);
    if (problem) c.add(key, `${show(v)} is not accepted: ${problem}; use repo:exact-tag or repo@sha256:<digest>`);
    return problem === undefined;
}

/** `connectionToken` (never shown): long, no whitespace, and shared mode only. */
export function checkConnectionToken(c: Collector, v: string, mode: Mode, key = "connectionToken"): boolean {
    if (v.length < 16) c.add(key, "is shorter than 16 characters; use a long random value (or unset it and one is generated)");
    else if (/\s/.test(v)) c.add(key, "contains whitespace (a pasted newline?); use a long random value without spaces (or unset it and one is generated)");
    else if (mode === "per-user") c.add(key, "is set, but per-user mode generates one token per user so that no two users share one; remove the key");
    else return true;
    return false;
}

/** `allowedCidrs` against `exposure` and `mode`: CIDRs, required with a load balancer that needs them, refused without one. */
export function checkExposure(c: Collector, s: { mode: Mode; exposure: string; allowedCidrs: readonly unknown[]; allowedCidrsSet: boolean }): void {
    const { mode, exposure, allowedCidrs } = s;
    for (const cidr of allowedCidrs) {
        if (typeof cidr !== "string" || !isCidr(cidr)) c.add("allowedCidrs", `${show(cidr)} is not a CIDR; use ranges like "203.0.113.0/24" or "2001:db8::/32"`);
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
    if (exposure === "cluster" && s.allowedCidrsSet) {
        c.add("allowedCidrs", 'is set, but exposure is "cluster" (no load balancer); set exposure to "internal" or "public", or remove the key');
    }
}

/** `egressAllowedCidrs`: private ranges, never `/0` or one that holds an instance-metadata address. */
export function checkEgressAllowedCidrs(c: Collector, cidrs: readonly unknown[]): void {
    for (const cidr of cidrs) {
        const problem = typeof cidr === "string" && isCidr(cidr) ? egressAllowanceProblem(cidr) : "is not a CIDR";
        if (problem !== undefined) {
            c.add("egressAllowedCidrs", `${show(cidr)} ${problem}; use the private ranges the servers must reach, like "10.20.0.0/24" (a private model endpoint) or "fd00:1::/64"`);
        }
    }
}

/** How often the session cleanup runs, in minutes (contract/cleanup.ts isCleanupInterval). */
export function checkCleanupInterval(c: Collector, key: string, n: number, shown: unknown = n): boolean {
    if (isCleanupInterval(n)) return true;
    c.add(key, `${show(shown)} is not accepted; use ${CLEANUP_INTERVAL_HINT}`);
    return false;
}

/** `storageSize`: a Kubernetes quantity of bytes with a unit. */
export function checkStorageSize(c: Collector, v: string, key = "storageSize"): boolean {
    if (QUANTITY.test(v) && /[KMGTPE]i?$/.test(v)) return true;
    c.add(key, `${show(v)} is not accepted; use a Kubernetes quantity such as "10Gi" or "100Gi"`);
    return false;
}

/** `storageClass`: a Kubernetes object name. */
export function checkStorageClass(c: Collector, v: string, key = "storageClass"): boolean {
    if (/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) return true;
    c.add(key, `${show(v)} is not a valid StorageClass name (lowercase letters, digits, "-" and ".")`);
    return false;
}

/** Every key's own value and the rules between keys that hold on every platform. */
export function parseCommonKeys(c: Collector, raw: RawConfig): CommonSettings {
    const platform = parseEnum(c, "platform", raw.platform, PLATFORMS, "kubernetes");
    const mode = parseEnum(c, "mode", raw.mode, MODES, "shared");

    const replicasParsed = parseNumber(c, "replicas", raw.replicas, REPLICAS_BOUNDS);
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

    const cliVersion = raw.cliVersion !== undefined && checkCliVersion(c, raw.cliVersion) ? raw.cliVersion : DEFAULT_CLI_VERSION;
    if (raw.image !== undefined) checkImage(c, raw.image);

    if (raw.image !== undefined && raw.imageRepository !== undefined) {
        c.add("imageRepository", `is set together with image ${show(raw.image)}; with image nothing is built, so remove one of them`);
    }
    if (raw.imageRepository !== undefined && !/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(raw.imageRepository)) {
        c.add("imageRepository", `${show(raw.imageRepository)} is not a repository name; use e.g. "myregistry.azurecr.io/copilot-cli" (no tag)`);
    }
    const imagePlatform = parseEnum(c, "imagePlatform", raw.imagePlatform, IMAGE_PLATFORMS, DEFAULT_IMAGE_PLATFORM);
    for (const key of ["imageBaseImage", "imageReleaseBaseUrl"] as const) {
        if (raw.image !== undefined && raw[key] !== undefined) c.add(key, `is set together with image ${show(raw.image)}; with image nothing is built, so remove one of them`);
    }
    if (raw.imageBaseImage !== undefined) {
        const problem = imageReferenceProblem(raw.imageBaseImage);
        if (problem) c.add("imageBaseImage", `${show(raw.imageBaseImage)} is not accepted: ${problem}; use a pinned Debian bookworm image, repo:exact-tag or repo@sha256:<digest>`);
    }
    if (raw.imageReleaseBaseUrl !== undefined) {
        const problem = releaseBaseUrlProblem(raw.imageReleaseBaseUrl);
        if (problem) c.add("imageReleaseBaseUrl", `${show(raw.imageReleaseBaseUrl)} is not accepted: ${problem}`);
    }

    const credential = parseCredential(c, raw, mode, users);

    let connectionToken: pulumi.Output<string> | undefined;
    if (raw.connectionToken !== undefined && checkConnectionToken(c, raw.connectionToken, mode)) connectionToken = pulumi.secret(raw.connectionToken);

    const exposure = parseEnum(c, "exposure", raw.exposure, EXPOSURES, DEFAULT_EXPOSURE);
    const allowedCidrs = parseStringList(c, "allowedCidrs", raw.allowedCidrs) ?? [];
    checkExposure(c, { mode, exposure, allowedCidrs, allowedCidrsSet: raw.allowedCidrs !== undefined });

    const egressAllowedCidrs = parseStringList(c, "egressAllowedCidrs", raw.egressAllowedCidrs) ?? [];
    checkEgressAllowedCidrs(c, egressAllowedCidrs);

    const redis = parseBool(c, "redis", raw.redis, mode === "shared");
    const sessionTtlHours = parseNumber(c, "sessionTtlHours", raw.sessionTtlHours, SESSION_TTL_HOURS_BOUNDS) ?? DEFAULT_SESSION_TTL_HOURS;
    let sessionCleanupIntervalMinutes = DEFAULT_CLEANUP_INTERVAL_MINUTES;
    if (raw.sessionCleanupIntervalMinutes !== undefined) {
        const n = raw.sessionCleanupIntervalMinutes.trim() === "" ? NaN : Number(raw.sessionCleanupIntervalMinutes);
        if (checkCleanupInterval(c, "sessionCleanupIntervalMinutes", n, raw.sessionCleanupIntervalMinutes)) sessionCleanupIntervalMinutes = n;
    }
    const sessionIdleTimeoutSeconds = parseNumber(c, "sessionIdleTimeoutSeconds", raw.sessionIdleTimeoutSeconds, SESSION_IDLE_TIMEOUT_BOUNDS);
    const idleSuspendMinutes = parseNumber(c, "idleSuspendMinutes", raw.idleSuspendMinutes, IDLE_SUSPEND_MINUTES_BOUNDS);
    if (idleSuspendMinutes !== undefined && mode !== "per-user") {
        c.add("idleSuspendMinutes", `${show(raw.idleSuspendMinutes)} is set, but mode is "${mode}"; idle suspend stops one user's own server, so it applies to mode "per-user" only; remove the key`);
    }

    const storageSize = raw.storageSize ?? DEFAULT_STORAGE_SIZE;
    checkStorageSize(c, storageSize);
    if (raw.storageClass !== undefined) checkStorageClass(c, raw.storageClass);
    const namespace = raw.namespace ?? DEFAULT_NAMESPACE;
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
        c.add("namespace", `${show(namespace)} is not accepted; use a lowercase DNS label of at most 63 characters`);
    }
    const createNamespace = parseBool(c, "createNamespace", raw.createNamespace, true);
    const clientAffinity = parseBool(c, "clientAffinity", raw.clientAffinity, false);
    const serviceAnnotations = parseStringMap(c, "serviceAnnotations", raw.serviceAnnotations);
    const resources = parseResources(c, raw.resources);
    const telemetry = parseTelemetry(c, raw.telemetry);

    return {
        platform,
        mode,
        replicas,
        users,
        cliVersion,
        image: raw.image,
        imageRepository: raw.imageRepository,
        imagePlatform,
        imageBaseImage: raw.imageBaseImage,
        imageReleaseBaseUrl: raw.imageReleaseBaseUrl,
        credential,
        connectionToken,
        exposure,
        allowedCidrs,
        egressAllowedCidrs,
        redis,
        sessionTtlHours,
        sessionCleanupIntervalMinutes,
        sessionIdleTimeoutSeconds,
        idleSuspendMinutes: mode === "per-user" ? idleSuspendMinutes : undefined,
        storageClass: raw.storageClass,
        storageSize,
        namespace,
        createNamespace,
        clientAffinity,
        serviceAnnotations,
        resources,
        telemetry,
    };
}

/** Keys another platform owns, refused rather than ignored on this one. */
export function refuseForeignKeys(c: Collector, raw: RawConfig, keys: readonly (keyof RawConfig)[], owner: string, why?: (key: keyof RawConfig) => string): void {
    for (const key of keys.filter((k) => raw[k] !== undefined)) {
        c.add(key, `${show(raw[key])} is set, but ${key} applies to platform "${owner}" only${why ? ` (${why(key)})` : ""}; remove the key`);
    }
}

/** One server per user never has two servers writing one session, and one Redis shared by every user's clients would be a channel between tenants. */
export function refusePerUserRedis(c: Collector, s: CommonSettings): void {
    if (s.mode === "per-user" && s.redis) {
        c.add("redis", `true is not accepted with mode "per-user" on platform "${s.platform}": each user has a single server, so session locks are not needed; remove the key`);
    }
}
