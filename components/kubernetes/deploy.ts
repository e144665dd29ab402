import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { FleetConfig } from "../config";
import type { StackOutputs } from "../contract/outputs";
import { egressArgs, serverSettingsArgs, sessionCleanupArgs, userArgs } from "../deploy";
import { PerUserFleet } from "./perUserFleet";
import { SharedFleet, SharedFleetArgs } from "./sharedFleet";

/** The args both fleet components take alike. */
export type FleetSettingsArgs = Omit<SharedFleetArgs, "namespace" | "image" | "replicas" | "connectionToken" | "redis" | "clientAffinity">;

/**
 * Pod Security Admission labels for the namespace we create: our pods meet the `restricted`
 * profile, so enforce it and let nothing weaker in beside them.
 */
export const NAMESPACE_LABELS: Readonly<Record<string, string>> = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "app.kubernetes.io/part-of": "copilot-fleet",
};

/**
 * The component args every mode shares, from the parsed stack config: exactly what a library consumer
 * would pass (plain values; the components build the server spec and egress plan themselves).
 */
export function serverSettings(cfg: FleetConfig): FleetSettingsArgs {
    return {
        ...serverSettingsArgs(cfg),
        ...egressArgs(cfg),
        cliVersion: cfg.cliVersion,
        exposure: cfg.exposure,
        allowedCidrs: [...cfg.allowedCidrs],
        serviceAnnotations: { ...cfg.serviceAnnotations },
        storageClass: cfg.storageClass,
        storageSize: cfg.storageSize,
        sessionCleanup: sessionCleanupArgs(cfg),
        protectSessionState: cfg.protectSessionState,
    };
}

/** Deploys the configured fleet to the cluster of the ambient (or `opts.provider`) Kubernetes provider. */
export function deployKubernetes(name: string, cfg: FleetConfig, image: pulumi.Input<string>, opts?: pulumi.ComponentResourceOptions): StackOutputs {
    const ns = cfg.createNamespace
        ? new k8s.core.v1.Namespace(cfg.namespace, { metadata: { name: cfg.namespace, labels: { ...NAMESPACE_LABELS } } }, opts).metadata.name
        : pulumi.output(cfg.namespace);
    if (cfg.mode === "per-user") return deployPerUser(name, cfg, image, ns, opts);
    const fleet = new SharedFleet(name, { ...serverSettings(cfg), namespace: ns, replicas: cfg.replicas, image, connectionToken: cfg.connectionToken, redis: cfg.redis, clientAffinity: cfg.clientAffinity }, opts);
    return {
        platform: "kubernetes",
        mode: "shared",
        endpoint: fleet.endpoint,
        connectionToken: fleet.connectionToken,
        namespace: fleet.namespace,
        selector: fleet.selector,
        port: fleet.port,
        redisUrl: fleet.redisUrl,
        sessionStatePath: fleet.sessionStatePath,
    };
}

function deployPerUser(
    name: string,
    cfg: FleetConfig,
    image: pulumi.Input<string>,
    namespace: pulumi.Input<string>,
    opts?: pulumi.ComponentResourceOptions,
): StackOutputs {
    const fleet = new PerUserFleet(name, { ...serverSettings(cfg), namespace, image, users: userArgs(cfg), idleSuspendMinutes: cfg.idleSuspendMinutes }, opts);
    return {
        platform: "kubernetes",
        mode: "per-user",
        namespace: fleet.namespace,
        selector: fleet.selector,
        port: fleet.port,
        sessionStatePath: fleet.sessionStatePath,
        users: fleet.users,
        ...(fleet.idleSuspend ? { idleSuspend: fleet.idleSuspend } : {}),
    };
}
