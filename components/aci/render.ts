/**
 * Renders the platform-neutral CLI server spec (components/contract/server.ts) as Azure Container Instances
 * container settings. Pure functions: the fleet components call them, tests call them without mocks.
 *
 * ACI differs from Kubernetes in ways that shape this file:
 * - `command` replaces the image's ENTRYPOINT (there is no separate `args`), so tini is repeated in
 *   front of the server arguments to stay PID 1 (it forwards SIGTERM and reaps tool processes).
 * - Only secure environment variables keep a value out of the API's answers and the portal: every
 *   secret in the spec becomes `secureValue`.
 * - There is no startup probe, preStop hook or grace period. Liveness tolerates 6 × 20 s of failures,
 *   which covers the spec's whole startup budget (60 × 2 s), so a starting server is not killed.
 * - A Standard-SKU group takes no security context: the image's `USER 10001` keeps the CLI non-root.
 */
import * as pulumi from "@pulumi/pulumi";
import type { containerinstance as aci } from "@pulumi/azure-native/types/input";
import { quantityBytes, quantityCores } from "../contract/quantities";
import { HAPROXY_CONFIG_PATH, HAPROXY_IMAGE, HAPROXY_METRICS_PORT } from "../contract/haproxy";
import { REDIS_IMAGE, REDIS_PORT } from "../contract/redis";
import { ProbeSpec, ServerSpec, telemetryInstanceEnv } from "../contract/server";
import { azureTagKey, azureTags, LABEL_KEYS } from "../contract/labels";

export type ContainerArgs = aci.ContainerArgs;
export type VolumeArgs = aci.VolumeArgs;

export const SERVER_CONTAINER_NAME = "copilot";
/** The image's init (images/copilot-cli/Dockerfile ENTRYPOINT); ACI's `command` replaces the entrypoint. */
export const INIT_COMMAND: readonly string[] = ["/usr/bin/tini", "--"];

/** Volume names inside a server group. */
export const VOLUMES = {
    sessionState: "session-state",
    copilotHome: "copilot-home",
    tmp: "tmp",
} as const;

/**
 * Tag keys are the Kubernetes label keys with `.` for `/` (Azure refuses `/` in a tag name:
 * components/contract/labels.ts azureTagKey), so policies and queries read one vocabulary everywhere.
 */
export const TAGS = Object.fromEntries(Object.entries(LABEL_KEYS).map(([k, v]) => [k, azureTagKey(v)])) as { readonly [K in keyof typeof LABEL_KEYS]: string };
export { azureTags };

export function fleetTags(fleet: string, cliVersion: string, component: string, name: string): Record<string, string> {
    return {
        [TAGS.name]: name,
        [TAGS.component]: component,
        [TAGS.instance]: fleet,
        [TAGS.partOf]: "copilot-fleet",
        [TAGS.version]: cliVersion,
        [TAGS.managedBy]: "pulumi",
    };
}

export function serverTags(fleet: string, cliVersion: string, user?: string): Record<string, string> {
    const tags = fleetTags(fleet, cliVersion, "server", "copilot-cli");
    return user === undefined ? tags : { ...tags, [TAGS.user]: user };
}

/** Kubernetes CPU quantity → ACI cores, rounded UP to 0.1 core (never below the spec). */
export function cpuCores(q: string): number {
    const cores = quantityCores(q);
    return Math.max(0.1, Math.ceil(Math.round(cores * 1000) / 100) / 10);
}

/**
 * Kubernetes memory quantity → ACI `memoryInGB`, rounded UP to 0.1. Bytes are divided by 10^9: ACI
 * says "GB", and if it means GiB the result is only ever a little more than the spec, never less
 * (2Gi → 2.2, 512Mi → 0.6).
 */
export function memoryGb(q: string): number {
    const gb = quantityBytes(q) / 1e9;
    return Math.max(0.1, Math.ceil(Math.round(gb * 1e6) / 1e5) / 10);
}

/**
 * ACI requests and limits from the spec. ACI reserves (and bills) a group's requests and never lets
 * a container exceed the group's total, so a request below the limit would make the limit
 * unreachable: both are the spec's limits (2 CPU / 2Gi by default; lower them with the `resources`
 * config's cpuLimit/memoryLimit).
 */
export function renderServerResources(spec: ServerSpec): NonNullable<ContainerArgs["resources"]> {
    const cpu = cpuCores(spec.resources.cpuLimit);
    const memoryInGB = memoryGb(spec.resources.memoryLimit);
    return { requests: { cpu, memoryInGB }, limits: { cpu, memoryInGB } };
}

export function renderProbe(p: ProbeSpec, initialDelaySeconds = p.initialDelaySeconds): aci.ContainerProbeArgs {
    return {
        exec: { command: [...p.exec] },
        initialDelaySeconds,
        periodSeconds: p.periodSeconds,
        timeoutSeconds: p.timeoutSeconds,
        failureThreshold: p.failureThreshold,
    };
}

/** Values for the spec's secret env vars, by secret key. */
export type SecretValues = Readonly<Record<string, pulumi.Input<string>>>;

/** Plain env as `value`, every secret as `secureValue` (write-only in the ACI API). */
export function renderEnv(plain: readonly { name: string; value: string }[], secretEnv: ServerSpec["secretEnv"], secrets: SecretValues): aci.EnvironmentVariableArgs[] {
    const env: aci.EnvironmentVariableArgs[] = plain.map((e) => ({ name: e.name, value: e.value }));
    for (const e of secretEnv) {
        const value = secrets[e.secretKey];
        if (value === undefined) throw new Error(`no value for secret key ${e.secretKey} (env ${e.name})`);
        env.push({ name: e.name, secureValue: pulumi.secret(value) });
    }
    return env;
}

/**
 * The CLI container: tini + spec args, secure env for every secret, probes, resources, mounts.
 * `instanceId` (the group name) becomes the telemetry service.instance.id when telemetry is on.
 */
export function renderServerContainer(spec: ServerSpec, image: pulumi.Input<string>, secrets: SecretValues, instanceId: string): ContainerArgs {
    const env = renderEnv([...spec.env, ...telemetryInstanceEnv(spec, instanceId)], spec.secretEnv, secrets);
    return {
        name: SERVER_CONTAINER_NAME,
        image,
        command: [...INIT_COMMAND, ...spec.args],
        ports: [{ port: spec.port, protocol: "TCP" }],
        environmentVariables: env,
        resources: renderServerResources(spec),
        readinessProbe: renderProbe(spec.readinessProbe, spec.startupProbe.initialDelaySeconds),
        livenessProbe: renderProbe(spec.livenessProbe, spec.startupProbe.initialDelaySeconds),
        volumeMounts: [
            // Local scratch for COPILOT_HOME (SQLite session store, logs): SQLite on SMB fails with "database is locked".
            { name: VOLUMES.copilotHome, mountPath: spec.copilotHome },
            // The Azure Files share, at the session-state path only.
            { name: VOLUMES.sessionState, mountPath: spec.sessionStatePath },
            { name: VOLUMES.tmp, mountPath: "/tmp" },
        ],
    };
}

export interface AzureFileShareRef {
    readonly storageAccountName: pulumi.Input<string>;
    readonly shareName: pulumi.Input<string>;
    /** Secret. ACI mounts Azure Files with the account key only (no identity-based SMB mount). */
    readonly storageAccountKey: pulumi.Input<string>;
}

/**
 * A server group's volumes. No emptyDir over the CLI cache ($HOME/.cache): Kubernetes needs one
 * because its root filesystem is read-only, while ACI's is writable, so the image's pre-warmed
 * cache (~235 MB the CLI would otherwise unpack on every start) stays in use.
 */
export function renderServerVolumes(share: AzureFileShareRef): VolumeArgs[] {
    return [
        sessionStateVolume(share),
        { name: VOLUMES.copilotHome, emptyDir: {} },
        { name: VOLUMES.tmp, emptyDir: {} },
    ];
}

/** The Azure Files share as the `session-state` volume (servers and the cleanup sidecar mount it). */
export function sessionStateVolume(share: AzureFileShareRef): VolumeArgs {
    return { name: VOLUMES.sessionState, azureFile: { shareName: share.shareName, storageAccountName: share.storageAccountName, storageAccountKey: pulumi.secret(share.storageAccountKey) } };
}

/** Requests (= limits) of the small helper containers (HAProxy, Redis). */
export const HELPER_RESOURCES = { cpu: 0.5, memoryInGB: 0.5 } as const;

function helperResources(): NonNullable<ContainerArgs["resources"]> {
    return { requests: { ...HELPER_RESOURCES }, limits: { ...HELPER_RESOURCES } };
}

function execProbe(command: string[], periodSeconds: number): aci.ContainerProbeArgs {
    return { exec: { command }, initialDelaySeconds: 5, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 };
}

/** Secret volumes take base64 file contents. */
export function secretFile(content: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.secret(pulumi.output(content).apply((c) => Buffer.from(c, "utf8").toString("base64")));
}

export const HAPROXY_CONFIG_VOLUME = "haproxy-config";
export const REDIS_CONFIG_VOLUME = "redis-config";
export const REDIS_CONF_DIR = "/usr/local/etc/redis";
export const REDIS_CONF_PATH = `${REDIS_CONF_DIR}/redis.conf`;

/** HAProxy: its config (which holds the token for the JSON-RPC health check) comes from a secret volume. */
export function renderHaproxyContainer(port: number): ContainerArgs {
    const dir = HAPROXY_CONFIG_PATH.slice(0, HAPROXY_CONFIG_PATH.lastIndexOf("/"));
    // The frontend accepts connections; each backend has its own JSON-RPC check inside HAProxy.
    const check = ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`];
    return {
        name: "haproxy",
        image: HAPROXY_IMAGE,
        // `-W -db` is what the image's entrypoint adds, and ACI's `command` replaces the entrypoint.
        command: ["haproxy", "-W", "-db", "-f", HAPROXY_CONFIG_PATH],
        ports: [
            { port, protocol: "TCP" },
            { port: HAPROXY_METRICS_PORT, protocol: "TCP" },
        ],
        resources: helperResources(),
        readinessProbe: execProbe(check, 10),
        livenessProbe: execProbe(check, 10),
        volumeMounts: [{ name: HAPROXY_CONFIG_VOLUME, mountPath: dir, readOnly: true }],
    };
}

/**
 * Redis: the password is in redis.conf on a secret volume (never in command or plain env). The
 * image's entrypoint stays in front so it drops from root to the `redis` user as on Docker.
 * REDISCLI_AUTH (secure) lets the probe authenticate.
 */
export function renderRedisContainer(password: pulumi.Input<string>): ContainerArgs {
    const check = ["sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"];
    return {
        name: "redis",
        image: REDIS_IMAGE,
        command: ["docker-entrypoint.sh", "redis-server", REDIS_CONF_PATH],
        ports: [{ port: REDIS_PORT, protocol: "TCP" }],
        environmentVariables: [{ name: "REDISCLI_AUTH", secureValue: pulumi.secret(password) }],
        resources: helperResources(),
        readinessProbe: execProbe(check, 5),
        livenessProbe: execProbe(check, 10),
        volumeMounts: [{ name: REDIS_CONFIG_VOLUME, mountPath: REDIS_CONF_DIR, readOnly: true }],
    };
}

/** `ip:port` of a container group's private address. */
export function groupEndpoint(ip: pulumi.Input<string | undefined>, port: number): pulumi.Output<string> {
    return pulumi.output(ip).apply((a) => (a ? `${a}:${port}` : ""));
}
