/**
 * Turns a parsed FleetConfig into resources on the chosen platform. Platform modules are loaded on
 * demand so a stack loads only its own provider SDK (a Kubernetes stack never loads Azure's).
 */
import * as pulumi from "@pulumi/pulumi";
import { cleanupSettings, FleetConfig } from "./config";
import type { ServerSettingsArgs, SessionCleanupArgs, UserArgs } from "./contract/args";
import { configEndpoints } from "./contract/egress";
import type { StackOutputs } from "./contract/outputs";

export type { StackOutputs };

/** Name of the fleet component (and prefix of every child's name). */
export const FLEET_NAME = "copilot";

/** Where a platform wants the built image pushed when it brings its own registry (ACI's ACR). */
export interface ImagePushTarget {
    /** Repository without tag, e.g. `<acr>.azurecr.io/copilot-cli`. */
    readonly repository: pulumi.Input<string>;
    /** Registry host; credentials come from the machine's Docker credential helpers. */
    readonly server: pulumi.Input<string>;
}

/*
 * The parsed stack config as the components' plain arguments: each platform's deploy passes exactly
 * what a library consumer would (the components build the server spec, egress plan and cleanup).
 */

/** The server settings every fleet component takes (egress aside: see egressArgs). */
export function serverSettingsArgs(cfg: FleetConfig): Omit<ServerSettingsArgs, "egressAllowedCidrs" | "egressEndpoints"> {
    return {
        githubToken: cfg.credential.kind === "githubToken" ? cfg.credential.githubToken : undefined,
        sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds,
        resources: cfg.resources,
        telemetry: cfg.telemetry && { ...cfg.telemetry, resourceAttributes: { ...cfg.telemetry.resourceAttributes } },
    };
}

/** Where the servers may connect besides the public internet: the allowed ranges and the BYOK provider (telemetry's collector comes with `telemetry`). */
export function egressArgs(cfg: FleetConfig): Pick<ServerSettingsArgs, "egressAllowedCidrs" | "egressEndpoints"> {
    return {
        egressAllowedCidrs: [...cfg.egressAllowedCidrs],
        egressEndpoints: configEndpoints(cfg).filter((e) => e.source === "provider.baseUrl").map((e) => e.url),
    };
}

/** The session cleanup every stack runs (`sessionTtlHours`, `sessionCleanupIntervalMinutes`). */
export function sessionCleanupArgs(cfg: FleetConfig): SessionCleanupArgs {
    return cleanupSettings(cfg);
}

/** The per-user fleet's users. */
export function userArgs(cfg: FleetConfig): UserArgs[] {
    return cfg.users.map((u) => ({ id: u.id, githubToken: u.githubToken, suspended: u.suspended }));
}

/** What the image is built from: the CLI version, the platform, and the base image and release mirror when set. */
function buildSource(cfg: FleetConfig): { cliVersion: string; platform: FleetConfig["imagePlatform"]; baseImage?: string; releaseBaseUrl?: string } {
    return { cliVersion: cfg.cliVersion, platform: cfg.imagePlatform, baseImage: cfg.imageBaseImage, releaseBaseUrl: cfg.imageReleaseBaseUrl };
}

/** The image the fleet runs: the configured prebuilt reference, or one built from the release. */
export async function fleetImage(cfg: FleetConfig, opts?: pulumi.ComponentResourceOptions, target?: ImagePushTarget): Promise<pulumi.Output<string>> {
    if (cfg.image !== undefined) return pulumi.output(cfg.image);
    // Loaded here, not at the top: a stack with `image` set never loads the Docker provider.
    const { CopilotImage } = await import("./image/copilotImage");
    if (target !== undefined) {
        return new CopilotImage(
            `${FLEET_NAME}-image`,
            { ...buildSource(cfg), repository: target.repository, push: true, registry: { server: target.server } },
            opts,
        ).imageRef;
    }
    const repository = cfg.imageRepository ?? "copilot-cli";
    return new CopilotImage(
        `${FLEET_NAME}-image`,
        { ...buildSource(cfg), repository, push: cfg.imageRepository !== undefined },
        opts,
    ).imageRef;
}

/** The BYOK settings clients must send on every create and resume (a secret output), when BYOK is configured. */
export function providerOutput(cfg: FleetConfig): pulumi.Output<{ type: string; baseUrl: string; model: string; apiKey?: string }> | undefined {
    if (cfg.credential.kind !== "provider") return undefined;
    const p = cfg.credential.provider;
    return pulumi.secret(pulumi.output({ type: p.type, baseUrl: p.baseUrl, model: p.model, apiKey: p.apiKey }));
}

export async function deploy(cfg: FleetConfig): Promise<StackOutputs> {
    let outputs: StackOutputs;
    switch (cfg.platform) {
        case "aci": {
            // ACI builds into the registry it creates, so it asks for the image once that exists.
            const { deployAci } = await import("./aci/deploy");
            outputs = await deployAci(FLEET_NAME, cfg, (target, opts) => fleetImage(cfg, opts, target));
            break;
        }
        case "kubernetes": {
            const image = await fleetImage(cfg);
            const { deployKubernetes } = await import("./kubernetes/deploy");
            outputs = deployKubernetes(FLEET_NAME, cfg, image);
            break;
        }
        case "docker": {
            const image = await fleetImage(cfg);
            const { deployDocker } = await import("./docker/deploy");
            outputs = deployDocker(FLEET_NAME, cfg, image);
            break;
        }
        default: {
            // parseFleetConfig accepts only the platforms above; this keeps the switch exhaustive.
            const unknown: never = cfg.platform;
            throw new Error(`platform ${JSON.stringify(unknown)} has no deploy`);
        }
    }
    const provider = providerOutput(cfg);
    // Every platform states it, so apps and the smoke suite know what to pass on create and resume.
    // Every server starts through the image's copilot-fleet-server (spec.ts serverArgs), which installs the tool guard.
    const withCredentials: StackOutputs = { ...outputs, credentials: cfg.credential.kind, toolGuard: true };
    return provider ? { ...withCredentials, provider } : withCredentials;
}
