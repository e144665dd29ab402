import * as pulumi from "@pulumi/pulumi";
import type { FleetConfig } from "../config";
import type { StackOutputs } from "../contract/outputs";
import { serverSettingsArgs, sessionCleanupArgs, userArgs } from "../deploy";
import { DockerPerUserFleet } from "./perUserFleet";
import { DockerSharedFleet } from "./sharedFleet";

/** Deploys the configured fleet to the local Docker engine (the dev stack's default), through the components' plain arguments. */
export function deployDocker(name: string, cfg: FleetConfig, image: pulumi.Input<string>, opts?: pulumi.ComponentResourceOptions): StackOutputs {
    const common = { ...serverSettingsArgs(cfg), image, cliVersion: cfg.cliVersion, sessionCleanup: sessionCleanupArgs(cfg), protectSessionState: cfg.protectSessionState };
    if (cfg.mode === "per-user") {
        const fleet = new DockerPerUserFleet(name, { ...common, users: userArgs(cfg), idleSuspendMinutes: cfg.idleSuspendMinutes }, opts);
        return { platform: "docker", mode: "per-user", users: fleet.users, sessionStatePath: fleet.sessionStatePath, ...(cfg.idleSuspendMinutes !== undefined ? { idleSuspend: { minutes: cfg.idleSuspendMinutes } } : {}) };
    }
    const fleet = new DockerSharedFleet(name, { ...common, replicas: cfg.replicas, connectionToken: cfg.connectionToken, redis: cfg.redis }, opts);
    return {
        platform: "docker",
        mode: "shared",
        endpoint: fleet.endpoint,
        connectionToken: fleet.connectionToken,
        replicas: fleet.replicas,
        redisUrl: fleet.redisUrl,
        sessionStatePath: fleet.sessionStatePath,
    };
}
