/**
 * Session cleanup on Kubernetes, rendered from the platform-neutral `CleanupSpec` (components/contract/cleanup.ts).
 *
 * Shared mode: a CronJob in the fleet's namespace. Its pod mounts the fleet's ReadWriteMany claim at
 * the session-state path (the tool reads in-use lock files there), takes the token from the fleet's
 * Secret, dials the fleet Service, and carries the fleet's client label so the servers'
 * NetworkPolicy admits it.
 *
 * Per-user mode: a loop-mode sidecar in each user's server pod. The user's claim is ReadWriteOnce
 * (mountable on one node), so a separate pod would need pod affinity to land on that node and would
 * still fail on ReadWriteOncePod classes; and N users would mean N Jobs (N pod starts) per interval.
 * The sidecar shares the pod's volume and network (it dials 127.0.0.1, so no NetworkPolicy rule), costs
 * ~2 MB of memory, and stops with the server when a user is suspended, when nothing creates sessions.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CLI_PORT } from "../contract/server";
import { CleanupSpec } from "../contract/cleanup";
import { serverClientEgressRules } from "./egress";
import { LABELS, VOLUMES, renderPlainEnv, renderProbe, renderResources, renderSecretEnv, restrictedSecurityContext, serverSelector } from "./render";
import { componentType, withFormerType } from "../contract/types";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;
type CronJobSpec = k8s.types.input.batch.v1.CronJobSpec;

export const CLEANUP_CONTAINER_NAME = "session-cleanup";
export const CLEANUP_COMPONENT = "session-cleanup";
/** Finished Jobs (and their pods' logs) are kept this long for `kubectl logs`, then garbage-collected. */
export const CLEANUP_JOB_TTL_SECONDS = 24 * 3600;
export const CLEANUP_HISTORY = { successful: 3, failed: 3 } as const;
/** One retry: a run that failed on a server restart usually succeeds a minute later. */
export const CLEANUP_BACKOFF_LIMIT = 1;

/** Labels of the cleanup pods: the fleet's client label lets them through the servers' NetworkPolicy. */
export function cleanupLabels(fleet: string, cliVersion: string): Record<string, string> {
    return {
        [LABELS.name]: "copilot-cli",
        [LABELS.component]: CLEANUP_COMPONENT,
        [LABELS.instance]: fleet,
        [LABELS.partOf]: "copilot-fleet",
        [LABELS.version]: cliVersion,
        [LABELS.managedBy]: "pulumi",
        [LABELS.client]: fleet,
    };
}

/** The cleanup container: token by `secretKeyRef` only, the session-state volume, restricted context. */
export function renderCleanupContainer(spec: CleanupSpec, image: pulumi.Input<string>, secretName: pulumi.Input<string>): Container {
    return {
        name: CLEANUP_CONTAINER_NAME,
        image,
        imagePullPolicy: "IfNotPresent",
        args: [...spec.args],
        env: [...renderPlainEnv(spec.env), ...renderSecretEnv(spec.secretEnv, secretName)],
        resources: renderResources(spec.resources),
        readinessProbe: renderProbe(spec.readinessProbe),
        livenessProbe: renderProbe(spec.livenessProbe),
        securityContext: restrictedSecurityContext(spec.uid, spec.gid),
        volumeMounts: [{ name: VOLUMES.sessionState, mountPath: spec.sessionStatePath }],
        terminationMessagePolicy: "FallbackToLogsOnError",
    };
}

/** The server pod with the loop-mode cleanup beside the CLI (per-user mode). */
export function withCleanupSidecar(pod: PodSpec, sidecar: Container): PodSpec {
    if (!Array.isArray(pod.containers)) throw new Error("withCleanupSidecar needs a pod spec whose containers are a plain list");
    return { ...pod, containers: [...pod.containers, sidecar] };
}

/** The CronJob spec: one run per schedule tick, never two at once, bounded in time, history kept short. */
export function renderCleanupCronJobSpec(
    spec: CleanupSpec,
    image: pulumi.Input<string>,
    secretName: pulumi.Input<string>,
    claimName: pulumi.Input<string>,
    labels: Readonly<Record<string, string>>,
): CronJobSpec {
    if (spec.mode !== "once") throw new Error(`a CronJob runs the cleanup once per tick; got a "${spec.mode}" spec`);
    return {
        schedule: spec.schedule,
        timeZone: "Etc/UTC",
        // A second run while one is still going would race it over the same sessions.
        concurrencyPolicy: "Forbid",
        // A tick missed by more than this (controller down, cluster busy) is skipped, not run late in a burst.
        startingDeadlineSeconds: Math.min(300, spec.intervalMinutes * 30),
        successfulJobsHistoryLimit: CLEANUP_HISTORY.successful,
        failedJobsHistoryLimit: CLEANUP_HISTORY.failed,
        jobTemplate: {
            metadata: { labels: { ...labels } },
            spec: {
                backoffLimit: CLEANUP_BACKOFF_LIMIT,
                activeDeadlineSeconds: spec.runDeadlineSeconds,
                ttlSecondsAfterFinished: CLEANUP_JOB_TTL_SECONDS,
                template: {
                    metadata: { labels: { ...labels } },
                    spec: {
                        restartPolicy: "Never",
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: spec.uid,
                            runAsGroup: spec.gid,
                            fsGroup: spec.gid,
                            fsGroupChangePolicy: "OnRootMismatch",
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        containers: [renderCleanupContainer(spec, image, secretName)],
                        volumes: [{ name: VOLUMES.sessionState, persistentVolumeClaim: { claimName } }],
                    },
                },
            },
        },
    };
}

export interface SessionCleanupArgs {
    /** Namespace of the fleet (the CronJob must sit beside the claim and the Secret). */
    readonly namespace: pulumi.Input<string>;
    /** The fleet's name: labels and the client label value its NetworkPolicy admits. */
    readonly fleet: string;
    /** The servers' image (same reference and digest: it carries the cleanup binary). */
    readonly image: pulumi.Input<string>;
    readonly cliVersion: string;
    /** components/contract/cleanup.ts `buildCleanupSpec` with `mode: "once"` and the fleet Service as endpoint. */
    readonly spec: CleanupSpec;
    /** Secret holding the connection token under `connection-token`. */
    readonly secretName: pulumi.Input<string>;
    /** The fleet's ReadWriteMany session-state claim. */
    readonly claimName: pulumi.Input<string>;
    /** The servers' port, the only one its pods may dial (besides DNS). Default {@link CLI_PORT}. */
    readonly serverPort?: number;
}

/** Selector of the cleanup pods (a subset of {@link cleanupLabels} that never changes with the version). */
export function cleanupSelector(fleet: string): Record<string, string> {
    return { [LABELS.component]: CLEANUP_COMPONENT, [LABELS.instance]: fleet };
}

/**
 * Shared mode: a CronJob that deletes sessions older than the TTL through the fleet Service, and a
 * NetworkPolicy that lets its pods reach DNS and the fleet's servers only: the pod holds the
 * connection token, so it gets no wider reach than its one job needs.
 */
export class SessionCleanup extends pulumi.ComponentResource {
    public readonly cronJobName: pulumi.Output<string>;
    public readonly schedule: string;

    constructor(name: string, args: SessionCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("SessionCleanup"), name, {}, withFormerType("copilot-fleet:kubernetes:SessionCleanup", opts));
        const labels = cleanupLabels(args.fleet, args.cliVersion);
        const cronJob = new k8s.batch.v1.CronJob(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: renderCleanupCronJobSpec(args.spec, args.image, args.secretName, args.claimName, labels),
            },
            { parent: this },
        );
        new k8s.networking.v1.NetworkPolicy(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: {
                    podSelector: { matchLabels: cleanupSelector(args.fleet) },
                    policyTypes: ["Egress"],
                    egress: serverClientEgressRules(serverSelector(args.fleet), args.serverPort ?? CLI_PORT),
                },
            },
            { parent: this },
        );
        this.cronJobName = cronJob.metadata.name;
        this.schedule = args.spec.schedule;
        this.registerOutputs({ cronJobName: this.cronJobName, schedule: this.schedule });
    }
}
