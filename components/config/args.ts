/**
 * The fleet components' own argument checks: a library consumer never goes through the stack
 * config, so every component checks the plain arguments it was given, before it registers a child,
 * with the config's rules and messages (./rules.ts, ./objects.ts, ./platforms/). Argument names are
 * the config keys' names wherever both exist; `sessionCleanup.*` stands for `sessionTtlHours` and
 * `sessionCleanupIntervalMinutes`.
 *
 * An argument that is an Output (an image built in the same program, a secret token) cannot be read
 * before resources are registered, so only its plain-value form is checked.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Mode, Platform } from "../contract/outputs";
import { Collector, ConfigIssue } from "./issues";
import { EXPOSURES, IDLE_SUSPEND_MINUTES_BOUNDS, REPLICAS_BOUNDS, SESSION_IDLE_TIMEOUT_BOUNDS, SESSION_TTL_HOURS_BOUNDS } from "./keys";
import { resourcesFrom, telemetryFrom, usersFrom } from "./objects";
import { checkAciExposure, checkShareSize, checkVnetAddressSpace } from "./platforms/aci";
import { checkCleanupInterval, checkCliVersion, checkConnectionToken, checkEgressAllowedCidrs, checkExposure, checkImage, checkStorageClass, checkStorageSize } from "./rules";
import { checkEnum, checkNumber } from "./values";

/** The arguments a component takes that have a rule; each is optional here (a component passes what it has). */
export interface CheckedArgs {
    readonly cliVersion?: string;
    readonly image?: pulumi.Input<string>;
    readonly replicas?: number;
    readonly connectionToken?: pulumi.Input<string>;
    readonly exposure?: string;
    readonly allowedCidrs?: readonly string[];
    readonly egressAllowedCidrs?: readonly string[];
    readonly storageSize?: pulumi.Input<string>;
    readonly storageClass?: pulumi.Input<string>;
    readonly sessionIdleTimeoutSeconds?: number;
    readonly idleSuspendMinutes?: number;
    readonly resources?: object;
    readonly telemetry?: object;
    readonly sessionCleanup?: { readonly ttlHours: number; readonly intervalMinutes?: number; readonly resources?: object };
    readonly users?: readonly object[];
    readonly vnetAddressSpace?: string;
}

/** Every problem with `args` for a component of `platform` in `mode`; empty when they are fine. */
export function argsIssues(platform: Platform, mode: Mode, args: CheckedArgs): ConfigIssue[] {
    const c = new Collector();
    const plain = (v: unknown): v is string => typeof v === "string";
    if (args.cliVersion !== undefined) checkCliVersion(c, args.cliVersion);
    if (plain(args.image)) checkImage(c, args.image);
    if (args.replicas !== undefined) checkNumber(c, "replicas", args.replicas, REPLICAS_BOUNDS);
    if (plain(args.connectionToken)) checkConnectionToken(c, args.connectionToken, mode);
    const exposure = args.exposure ?? "cluster";
    if (args.exposure !== undefined && checkEnum(c, "exposure", args.exposure, EXPOSURES) && platform === "aci") checkAciExposure(c, args.exposure);
    if (args.exposure !== undefined || args.allowedCidrs !== undefined) {
        checkExposure(c, { mode, exposure, allowedCidrs: args.allowedCidrs ?? [], allowedCidrsSet: args.allowedCidrs !== undefined && args.allowedCidrs.length > 0 });
    }
    if (args.egressAllowedCidrs !== undefined) checkEgressAllowedCidrs(c, args.egressAllowedCidrs);
    if (plain(args.storageSize) && checkStorageSize(c, args.storageSize) && platform === "aci") checkShareSize(c, args.storageSize);
    if (plain(args.storageClass)) checkStorageClass(c, args.storageClass);
    if (args.sessionIdleTimeoutSeconds !== undefined) checkNumber(c, "sessionIdleTimeoutSeconds", args.sessionIdleTimeoutSeconds, SESSION_IDLE_TIMEOUT_BOUNDS);
    if (args.idleSuspendMinutes !== undefined) checkNumber(c, "idleSuspendMinutes", args.idleSuspendMinutes, IDLE_SUSPEND_MINUTES_BOUNDS);
    if (args.resources !== undefined) resourcesFrom(c, "resources", args.resources);
    if (args.telemetry !== undefined) telemetryFrom(c, args.telemetry);
    if (args.sessionCleanup !== undefined) {
        checkNumber(c, "sessionCleanup.ttlHours", args.sessionCleanup.ttlHours, SESSION_TTL_HOURS_BOUNDS);
        if (args.sessionCleanup.intervalMinutes !== undefined) checkCleanupInterval(c, "sessionCleanup.intervalMinutes", args.sessionCleanup.intervalMinutes);
        if (args.sessionCleanup.resources !== undefined) resourcesFrom(c, "sessionCleanup.resources", args.sessionCleanup.resources);
    }
    if (args.users !== undefined) {
        usersFrom(c, args.users);
        if (args.users.length === 0) c.add("users", "is an empty list; a per-user fleet needs at least one user");
    }
    if (args.vnetAddressSpace !== undefined) checkVnetAddressSpace(c, args.vnetAddressSpace);
    return c.issues;
}

/**
 * Throws one `InputPropertiesError` listing every problem with `args` (each names the argument, the
 * value unless it may be a secret, and what is accepted), so nothing of the component is registered.
 */
export function assertArgs(component: string, name: string, platform: Platform, mode: Mode, args: CheckedArgs): void {
    const issues = argsIssues(platform, mode, args);
    if (issues.length === 0) return;
    throw new pulumi.InputPropertiesError({
        message: `${component} ${JSON.stringify(name)}: invalid arguments (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i.message}`).join("\n")}`,
        errors: issues.map((i) => ({ propertyPath: i.key, reason: i.message.slice(i.key.length + 2) })),
    });
}
