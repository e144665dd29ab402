import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, FleetConfig } from "../config";
import { FleetOutputs } from "../outputs";
import { buildServerSpec } from "../spec";
import { SharedFleet } from "./sharedFleet";

export type StackOutputs = { [K in keyof FleetOutputs]?: pulumi.Input<FleetOutputs[K]> };

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
    if (cfg.mode === "per-user") {
        throw new ConfigError([{ key: "mode", message: 'mode: "per-user" is not supported yet on platform "kubernetes"; supported now: "shared"' }]);
    }
    const ns = cfg.createNamespace
        ? new k8s.core.v1.Namespace(cfg.namespace, { metadata: { name: cfg.namespace, labels: { ...NAMESPACE_LABELS } } }, opts).metadata.name
        : pulumi.output(cfg.namespace);
    const spec = buildServerSpec({
        credential: { kind: cfg.credential.kind },
        sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds,
        resources: cfg.resources,
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
