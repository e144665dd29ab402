/**
 * Session cleanup on the local Docker engine: the cleanup tool in loop mode (Docker has no scheduler),
 * one container per fleet in shared mode (it dials the load balancer; any replica can delete any
 * session) and one per user in per-user mode (on that user's network, with that user's volume and
 * token). Rendered from the platform-neutral `CleanupSpec` (components/contract/cleanup.ts).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CleanupSpec } from "../contract/cleanup";
import { componentType, withFormerType } from "../contract/types";
import { CONTAINER_OPTIONS, goDuration, quantityToCpus, quantityToMegabytes, renderEnvs, SecretValues } from "./render";

type ContainerArgs = docker.ContainerArgs;

export const CLEANUP_COMPONENT_LABEL = { "app.kubernetes.io/component": "session-cleanup" } as const;
/** SIGTERM lets the loop finish the run in progress (each request is bounded by the spec's timeout). */
export const CLEANUP_STOP_TIMEOUT_SECONDS = 40;

export interface CleanupContainerOptions {
    readonly image: pulumi.Input<string>;
    /** The network its server (or the fleet's load balancer) is on. */
    readonly network: pulumi.Input<string>;
    /** The session-state volume of that server or fleet. */
    readonly volume: pulumi.Input<string>;
    readonly secrets: SecretValues;
    readonly labels: Readonly<Record<string, string>>;
}

/** The loop-mode cleanup container: token in secret envs, the session-state volume, read-only root, limits. */
export function renderCleanupContainer(spec: CleanupSpec, o: CleanupContainerOptions): Omit<ContainerArgs, "name"> {
    if (spec.mode !== "loop") throw new Error(`Docker has no scheduler: the cleanup container needs a "loop" spec, got "${spec.mode}"`);
    const envs = renderEnvs(spec.env, spec.secretEnv, o.secrets);
    const probe = spec.readinessProbe;
    return {
        image: o.image,
        command: [...spec.args],
        envs,
        user: `${spec.uid}:${spec.gid}`,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        // The tool writes only to the session-state volume (removing stale lock files).
        readOnly: true,
        mounts: [{ type: "volume", source: o.volume, target: spec.sessionStatePath }],
        networksAdvanced: [{ name: o.network }],
        // Docker runs one check for both readiness and liveness: "can it reach and authenticate to its server".
        healthcheck: {
            tests: ["CMD", ...probe.exec],
            interval: goDuration(spec.livenessProbe.periodSeconds),
            timeout: goDuration(probe.timeoutSeconds),
            retries: probe.failureThreshold,
            // No startInterval (Engine API 1.44+ only): see renderHealthcheck.
            startPeriod: goDuration(spec.livenessProbe.initialDelaySeconds),
        },
        memory: quantityToMegabytes(spec.resources.memoryLimit),
        memorySwap: quantityToMegabytes(spec.resources.memoryLimit),
        memoryReservation: quantityToMegabytes(spec.resources.memoryRequest),
        cpus: quantityToCpus(spec.resources.cpuLimit),
        restart: "unless-stopped",
        stopSignal: "SIGTERM",
        stopTimeout: CLEANUP_STOP_TIMEOUT_SECONDS,
        destroyGraceSeconds: CLEANUP_STOP_TIMEOUT_SECONDS,
        labels: Object.entries({ ...o.labels, ...CLEANUP_COMPONENT_LABEL }).map(([label, value]) => ({ label, value })),
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
    };
}

export interface DockerSessionCleanupArgs extends CleanupContainerOptions {
    /** components/contract/cleanup.ts `buildCleanupSpec` with `mode: "loop"` and the server (or load balancer) as endpoint. */
    readonly spec: CleanupSpec;
    /** Suspended users' cleanup is stopped with their server. Default true. */
    readonly running?: boolean;
    /**
     * The idle suspender stops and starts it with its server: `pulumi up` must leave it as the
     * suspender left it (mustRun false, as for the server). Default false.
     */
    readonly idleSuspend?: boolean;
}

/** One loop-mode cleanup container (named after the component). */
export class DockerSessionCleanup extends pulumi.ComponentResource {
    public readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: DockerSessionCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("DockerSessionCleanup"), name, {}, withFormerType("copilot-fleet:docker:SessionCleanup", opts));
        const running = args.running ?? true;
        const container = new docker.Container(
            name,
            { name, ...renderCleanupContainer(args.spec, args), start: running, mustRun: running && args.idleSuspend !== true },
            // As for the user's server (perUserFleet.ts): only a new container starts or stops.
            { parent: this, ...CONTAINER_OPTIONS, replaceOnChanges: ["start", "mustRun"] },
        );
        this.containerName = container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
