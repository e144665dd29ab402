/**
 * Renders the platform-neutral CLI server spec (components/contract/server.ts) as Docker container settings.
 * Docker has no secret store for env without Swarm: tokens go into `envs` as Pulumi secrets (kept
 * encrypted in state); `docker inspect` on the local machine shows them, which docs/docker.md states.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { quantityBytes, quantityCores } from "../contract/quantities";
import { PlainEnvVar, ProbeSpec, SecretEnvVar, ServerSpec, telemetryInstanceEnv } from "../contract/server";

type ContainerArgs = docker.ContainerArgs;


/**
 * Options for every container that carries a token in `envs` or a file: keep those properties
 * encrypted in state and masked in previews even if an input was not marked secret upstream.
 */
export const SECRET_CONTAINER_OPTIONS = { additionalSecretOutputs: ["envs", "uploads"] };

/** Resource limits for the small helper containers (HAProxy, Redis), in the provider's units. */
export const HELPER_LIMITS = { memory: 256, memoryReservation: 64, cpus: "1" } as const;

/** Values for the spec's secret env vars, by secret key. */
export type SecretValues = Readonly<Record<string, pulumi.Input<string>>>;

/** Seconds → the duration strings Docker health checks take. */
function seconds(s: number): string {
    return `${s}s`;
}

/** Kubernetes quantity → megabytes (Docker's `memory` unit in the provider, MiB), rounded up. */
export function quantityToMegabytes(q: string): number {
    return Math.ceil(quantityBytes(q) / 2 ** 20);
}

/** Kubernetes CPU quantity (`250m`, `2`) → Docker `cpus` string (`0.25`, `2`). */
export function quantityToCpus(q: string): string {
    return String(quantityCores(q));
}

/** Docker's health check runs the same in-image JSON-RPC check as Kubernetes' readiness probe. */
export function renderHealthcheck(readiness: ProbeSpec, startup: ProbeSpec): NonNullable<ContainerArgs["healthcheck"]> {
    return {
        tests: ["CMD", ...readiness.exec],
        interval: seconds(readiness.periodSeconds),
        timeout: seconds(readiness.timeoutSeconds),
        retries: readiness.failureThreshold,
        startPeriod: seconds(startup.periodSeconds * startup.failureThreshold),
        startInterval: seconds(startup.periodSeconds),
    };
}

export interface ServerContainerOptions {
    readonly image: pulumi.Input<string>;
    readonly network: pulumi.Input<string>;
    /** Network alias (the name other containers dial). */
    readonly alias: string;
    readonly volume: pulumi.Input<string>;
    readonly secrets: SecretValues;
    readonly labels: Readonly<Record<string, string>>;
}

/** `NAME=value` entries; secret ones are Pulumi secrets built from `secrets` (a missing value is a bug, so it throws). */
export function renderEnvs(plain: readonly PlainEnvVar[], secretEnv: readonly SecretEnvVar[], secrets: SecretValues): pulumi.Input<string>[] {
    const envs: pulumi.Input<string>[] = plain.map((e) => `${e.name}=${e.value}`);
    for (const e of secretEnv) {
        const value = secrets[e.secretKey];
        if (value === undefined) throw new Error(`no value for secret key ${e.secretKey} (env ${e.name})`);
        envs.push(pulumi.secret(pulumi.interpolate`${e.name}=${value}`));
    }
    return envs;
}

/** The CLI container: spec args (entrypoint/init kept), env, session-state volume, health check, limits. */
export function renderServerContainer(spec: ServerSpec, o: ServerContainerOptions): Omit<ContainerArgs, "name"> {
    const envs = renderEnvs([...spec.env, ...telemetryInstanceEnv(spec, o.alias)], spec.secretEnv, o.secrets);
    return {
        image: o.image,
        command: [...spec.args],
        envs,
        user: `${spec.uid}:${spec.gid}`,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        mounts: [{ type: "volume", source: o.volume, target: spec.sessionStatePath }],
        networksAdvanced: [{ name: o.network, aliases: [o.alias] }],
        // Published on loopback only, on a port the engine picks: the smoke suite dials each replica.
        ports: [{ internal: spec.port, ip: "127.0.0.1" }],
        healthcheck: renderHealthcheck(spec.readinessProbe, spec.startupProbe),
        memory: quantityToMegabytes(spec.resources.memoryLimit),
        memoryReservation: quantityToMegabytes(spec.resources.memoryRequest),
        cpus: quantityToCpus(spec.resources.cpuLimit),
        restart: "unless-stopped",
        stopSignal: "SIGTERM",
        stopTimeout: spec.terminationGraceSeconds,
        destroyGraceSeconds: spec.terminationGraceSeconds,
        labels: Object.entries(o.labels).map(([label, value]) => ({ label, value })),
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
    };
}

/** `127.0.0.1:<published port>` of a container's first published port. */
export function publishedEndpoint(container: docker.Container): pulumi.Output<string> {
    return container.ports.apply((ports) => {
        const p = ports?.[0];
        return p?.external ? `${p.ip && p.ip !== "0.0.0.0" ? p.ip : "127.0.0.1"}:${p.external}` : "";
    });
}
