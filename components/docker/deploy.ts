import * as pulumi from "@pulumi/pulumi";
import { cleanupSettings, FleetConfig } from "../config";
import type { StackOutputs } from "../contract/outputs";
import { buildServerSpec } from "../contract/server";
import { DockerPerUserFleet } from "./perUserFleet";
import { DockerSharedFleet } from "./sharedFleet";

/** Deploys the configured fleet to the local Docker engine (the dev stack's default). */
export function deployDocker(name: string, cfg: FleetConfig, image: pulumi.Input<string>, opts?: pulumi.ComponentResourceOptions): StackOutputs {
    const spec = buildServerSpec({ credential: { kind: cfg.credential.kind }, sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds, resources: cfg.resources, telemetry: cfg.telemetry });
    if (cfg.mode === "per-user") {
        const fleet = new DockerPerUserFleet(name, { image, cliVersion: cfg.cliVersion, spec, credential: cfg.credential, users: cfg.users, sessionCleanup: cleanupSettings(cfg), protectSessionState: cfg.protectSessionState, idleSuspendMinutes: cfg.idleSuspendMinutes }, opts);
        return { platform: "docker", mode: "per-user", users: fleet.users, sessionStatePath: fleet.sessionStatePath, ...(cfg.idleSuspendMinutes !== undefined ? { idleSuspend: { minutes: cfg.idleSuspendMinutes } } : {}) };
    }
    const fleet = new DockerSharedFleet(
        name,
        { image, cliVersion: cfg.cliVersion, spec, credential: cfg.credential, replicas: cfg.replicas, connectionToken: cfg.connectionToken, redis: cfg.redis, sessionCleanup: cleanupSettings(cfg), protectSessionState: cfg.protectSessionState },
        opts,
    );
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
