import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { cleanupSettings, FleetConfig } from "../config";
import type { StackOutputs } from "../contract/outputs";
import { configEndpoints, egressPlan } from "../contract/egress";
import { buildServerSpec } from "../contract/server";
import { PerUserFleet } from "./perUserFleet";
import { SharedFleet } from "./sharedFleet";

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

/** Deploys the configured fleet to the cluster of the ambient (or `opts.provider`) Kubernetes provider. */
export function deployKubernetes(name: string, cfg: FleetConfig, image: pulumi.Input<string>, opts?: pulumi.ComponentResourceOptions): StackOutputs {
    const ns = cfg.createNamespace
        ? new k8s.core.v1.Namespace(cfg.namespace, { metadata: { name: cfg.namespace, labels: { ...NAMESPACE_LABELS } } }, opts).metadata.name
        : pulumi.output(cfg.namespace);
    if (cfg.mode === "per-user") return deployPerUser(name, cfg, image, ns, opts);
    const spec = buildServerSpec({
        credential: { kind: cfg.credential.kind },
        sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds,
        resources: cfg.resources,
        telemetry: cfg.telemetry,
    });
    const fleet = new SharedFleet(
        name,
        {
            namespace: ns,
            replicas: cfg.replicas,
            image,
            cliVersion: cfg.cliVersion,
            spec,
            credential: cfg.credential,
            connectionToken: cfg.connectionToken,
            exposure: cfg.exposure,
            allowedCidrs: cfg.allowedCidrs,
            serviceAnnotations: cfg.serviceAnnotations,
            clientAffinity: cfg.clientAffinity,
            redis: cfg.redis,
            storageClass: cfg.storageClass,
            storageSize: cfg.storageSize,
            sessionCleanup: cleanupSettings(cfg),
            protectSessionState: cfg.protectSessionState,
            egress: egressPlan(cfg.egressAllowedCidrs, configEndpoints(cfg)),
        },
        opts,
    );
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
    const fleet = new PerUserFleet(
        name,
        {
            namespace,
            users: cfg.users,
            image,
            cliVersion: cfg.cliVersion,
            server: { sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds, resources: cfg.resources, telemetry: cfg.telemetry },
            credential: cfg.credential,
            exposure: cfg.exposure,
            allowedCidrs: cfg.allowedCidrs,
            serviceAnnotations: cfg.serviceAnnotations,
            storageClass: cfg.storageClass,
            storageSize: cfg.storageSize,
            sessionCleanup: cleanupSettings(cfg),
            protectSessionState: cfg.protectSessionState,
            egress: egressPlan(cfg.egressAllowedCidrs, configEndpoints(cfg)),
        },
        opts,
    );
    return {
        platform: "kubernetes",
        mode: "per-user",
        namespace: fleet.namespace,
        selector: fleet.selector,
        port: fleet.port,
        sessionStatePath: fleet.sessionStatePath,
        users: fleet.users,
    };
}
