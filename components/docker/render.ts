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
 * Options for every container.
 * - `additionalSecretOutputs`: a container carries a token in `envs` or a file; keep those properties
 *   encrypted in state and masked in previews even if an input was not marked secret upstream.
 * - `ignoreChanges`: fields an engine reports in its own form, which the provider would otherwise
 *   read as a change and answer by replacing the container at every `pulumi up` (found by real runs
 *   on podman's Docker API): podman reports the stop signal as a number ("15"), reports no log
 *   options, and adds tmpfs mounts on /run, /tmp and /var/tmp to read-only containers. This package
 *   sets none of the three from config, so nothing it manages is hidden by ignoring them.
 */
export const CONTAINER_OPTIONS = { additionalSecretOutputs: ["envs", "uploads"], ignoreChanges: ["stopSignal", "logOpts", "tmpfs"] };

/**
 * CPU limit as the provider reads it back (`"2.0"`, `"0.25"`): any other spelling of the same number
 * (`"2"`) is a change at every `pulumi up`, and a change of `cpus` replaces the container.
 */
export function dockerCpus(cores: number): string {
    if (!(cores > 0)) throw new Error(`cpus must be positive, got ${cores}`);
    const nano = Math.round(cores * 1e9);
    const whole = Math.floor(nano / 1e9);
    const frac = String(nano % 1e9).padStart(9, "0").replace(/0+$/, "");
    return `${whole}.${frac === "" ? "0" : frac}`;
}

/**
 * Resource limits for the small helper containers (HAProxy, Redis), in the provider's units.
 * `memorySwap` equal to `memory`: no swap (engines otherwise pick their own figure, which then reads
 * back as a change), and a process over its limit is stopped rather than paged out.
 */
export const HELPER_LIMITS = { memory: 256, memorySwap: 256, memoryReservation: 64, cpus: dockerCpus(1) } as const;

/** Values for the spec's secret env vars, by secret key. */
export type SecretValues = Readonly<Record<string, pulumi.Input<string>>>;

/**
 * Seconds → a health-check duration as the provider reads it back (Go's time.Duration form: "5s",
 * "2m0s", "1h0m0s"). "120s" is the same duration but reads back as "2m0s", a change that replaced
 * every container at each `pulumi up`.
 */
export function goDuration(s: number): string {
    if (!Number.isInteger(s) || s < 0) throw new Error(`a duration in whole seconds is expected, got ${s}`);
    if (s === 0) return "0s";
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (h > 0) return `${h}h${m}m${sec}s`;
    if (m > 0) return `${m}m${sec}s`;
    return `${sec}s`;
}

/** Kubernetes quantity → megabytes (Docker's `memory` unit in the provider, MiB), rounded up. */
export function quantityToMegabytes(q: string): number {
    return Math.ceil(quantityBytes(q) / 2 ** 20);
}

/** Kubernetes CPU quantity (`250m`, `2`) → Docker `cpus` string as the provider reads it back (`0.25`, `2.0`). */
export function quantityToCpus(q: string): string {
    return dockerCpus(quantityCores(q));
}

/**
 * Docker's health check runs the same in-image JSON-RPC check as Kubernetes' readiness probe. No
 * `startInterval`: it needs Engine API 1.44 (Docker 25), and the provider refuses the whole container
 * on older engines and on podman's Docker API (1.41), found by a real `pulumi up` on podman. During
 * the start period the check runs at `interval`.
 */
export function renderHealthcheck(readiness: ProbeSpec, startup: ProbeSpec): NonNullable<ContainerArgs["healthcheck"]> {
    return {
        tests: ["CMD", ...readiness.exec],
        interval: goDuration(readiness.periodSeconds),
        timeout: goDuration(readiness.timeoutSeconds),
        retries: readiness.failureThreshold,
        startPeriod: goDuration(startup.periodSeconds * startup.failureThreshold),
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
        // No swap: see HELPER_LIMITS.
        memorySwap: quantityToMegabytes(spec.resources.memoryLimit),
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

/**
 * The ID of the image a fleet's containers run, for their `image` input. A container given a tag is
 * read back as the engine spells the tag (podman: `docker.io/library/copilot-cli:...` for
 * `copilot-cli:...`), a change that replaced every container at each `pulumi up`; given the ID
 * (`sha256:...`) the provider reads back the ID on every engine. A prebuilt `image` is pulled here
 * when the engine lacks it; a built one is found locally.
 */
export function imageId(name: string, ref: pulumi.Input<string>, parent: pulumi.Resource): pulumi.Output<string> {
    return new docker.RemoteImage(name, { name: ref, keepLocally: true }, { parent }).imageId;
}

/** `127.0.0.1:<published port>` of a container's first published port. */
export function publishedEndpoint(container: docker.Container): pulumi.Output<string> {
    return container.ports.apply((ports) => {
        const p = ports?.[0];
        return p?.external ? `${p.ip && p.ip !== "0.0.0.0" ? p.ip : "127.0.0.1"}:${p.external}` : "";
    });
}

/** The label naming the CLI version a container runs. */
export const VERSION_LABEL = "app.kubernetes.io/version";

/**
 * Labels without the CLI version, for what outlives a CLI upgrade: volumes, networks, Redis and the
 * load balancer. On Docker a label is part of what a network, volume or container is, so a version
 * label there replaces it on every upgrade (a real `pulumi up` from 1.0.92 to 1.0.102 replaced the
 * Redis network, Redis with its locks, and everything on the fleet network).
 */
export function stableLabels(labels: Readonly<Record<string, string>>): Array<{ label: string; value: string }> {
    return Object.entries(labels)
        .filter(([label]) => label !== VERSION_LABEL)
        .map(([label, value]) => ({ label, value }));
}

/**
 * A bridge network of this fleet, with stable labels. The engine picks the address range;
 * ignoreChanges on the IPAM fields keeps what the engine reports from replacing the network (and
 * with it every container on it) at each `pulumi up`: podman's Docker API reports
 * `ipamOptions: { driver: "host-local" }` where nothing was set, which a real `pulumi up` turned into
 * replacing all containers on every run.
 */
export function bridgeNetwork(name: string, labels: Readonly<Record<string, string>>, parent: pulumi.Resource): docker.Network {
    return new docker.Network(name, { name, driver: "bridge", labels: stableLabels(labels) }, { parent, ignoreChanges: ["ipamOptions", "ipamDriver", "ipamConfigs"] });
}
