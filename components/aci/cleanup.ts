/**
 * Session cleanup on ACI, rendered from the platform-neutral `CleanupSpec` (components/contract/cleanup.ts):
 * a loop-mode sidecar in a server (per-user) or load-balancer (shared) group.
 */
import type * as pulumi from "@pulumi/pulumi";
import { CleanupSpec } from "../contract/cleanup";
import { ContainerArgs, cpuCores, INIT_COMMAND, memoryGb, renderEnv, renderProbe, SecretValues, VOLUMES } from "./render";

export const CLEANUP_CONTAINER_NAME = "session-cleanup";

/**
 * The session-cleanup tool in loop mode (components/contract/cleanup.ts buildCleanupSpec), as a sidecar: it dials
 * a server over the group's localhost and inspects in-use lock files on the share, which it mounts
 * at the session-state path like the servers. Its probes are the spec's: the in-image health check
 * against the same endpoint ("can it reach and authenticate to its server").
 */
export function renderCleanupContainer(cleanup: CleanupSpec, image: pulumi.Input<string>, secrets: SecretValues): ContainerArgs {
    // A sidecar may be limited above its own request: its group's total (the server's or HAProxy's
    // reservation) covers the burst, so it reserves (and bills) only its small request.
    const requests = { cpu: cpuCores(cleanup.resources.cpuRequest), memoryInGB: memoryGb(cleanup.resources.memoryRequest) };
    const limits = { cpu: cpuCores(cleanup.resources.cpuLimit), memoryInGB: memoryGb(cleanup.resources.memoryLimit) };
    return {
        name: CLEANUP_CONTAINER_NAME,
        image,
        command: [...INIT_COMMAND, ...cleanup.args],
        environmentVariables: renderEnv(cleanup.env, cleanup.secretEnv, secrets),
        resources: { requests, limits },
        readinessProbe: renderProbe(cleanup.readinessProbe),
        livenessProbe: renderProbe(cleanup.livenessProbe),
        volumeMounts: [{ name: VOLUMES.sessionState, mountPath: cleanup.sessionStatePath }],
    };
}
