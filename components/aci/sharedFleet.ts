import * as containerinstance from "@pulumi/azure-native/containerinstance";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DEFAULT_CLI_VERSION, DEFAULT_REPLICAS } from "../config";
import { assertArgs } from "../config/args";
import { cleanupSettingsFromArgs, credentialKind, serverSecrets, ServerSettingsArgs, serverSpecFromArgs, SessionCleanupArgs } from "../contract/args";
import { HAPROXY_METRICS_PORT, haproxyConfig } from "../contract/haproxy";
import { ReplicaOutput, replicaNames } from "../contract/outputs";
import { REDIS_PASSWORD_LENGTH, REDIS_PORT, redisConf } from "../contract/redis";
import { SECRET_KEYS } from "../contract/server";
import { buildCleanupSpec } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { AciPlacementArgs, containerGroupArgs } from "./group";
import { renderCleanupContainer } from "./cleanup";
import {
    AzureFileShareRef,
    fleetTags,
    groupEndpoint,
    HAPROXY_CONFIG_VOLUME,
    REDIS_CONFIG_VOLUME,
    renderHaproxyContainer,
    renderRedisContainer,
    renderServerContainer,
    renderServerVolumes,
    secretFile,
    serverTags,
    sessionStateVolume,
} from "./render";
import { componentType, withFormerType } from "../contract/types";

/**
 * The server settings the ACI fleets take: every {@link ServerSettingsArgs} but the egress ones,
 * which are the subnets' security rules and so AciNetwork's arguments (`egressAllowedCidrs`,
 * `egressEndpoints`, and `telemetry` for the collector).
 */
export type AciServerSettingsArgs = Omit<ServerSettingsArgs, "egressAllowedCidrs" | "egressEndpoints">;

/**
 * What a consumer passes to {@link AciSharedFleet}: plain values, each optional one with its default.
 * The network (AciNetwork: subnets, exposure, egress) and the share (AciStorage) are the consumer's,
 * or this package's components for them.
 */
export interface AciSharedFleetArgs extends AciServerSettingsArgs, AciPlacementArgs {
    /** Resource id of the ACI-delegated subnet for HAProxy and Redis (AciNetwork's `edgeSubnetId`, mode "shared"). */
    readonly edgeSubnetId: pulumi.Input<string>;
    /** Image reference, ideally pinned by digest (CopilotImage output in the stack's registry, or a prebuilt image). */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` tag. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** The Azure Files share every replica mounts at the session-state path (an AciStorage share). */
    readonly share: AzureFileShareRef;
    /** Number of CLI server groups. Default 3. */
    readonly replicas?: number;
    /** Connection token every client must present (a secret). Default: generated (RandomPassword). */
    readonly connectionToken?: pulumi.Input<string>;
    /** Run Redis (with a generated password) for session locks. Default true. */
    readonly redis?: boolean;
    /**
     * Session cleanup (TTL, interval): the cleanup tool in loop mode as a sidecar of the
     * load-balancer group; it reaches a server through HAProxy on the group's localhost and mounts
     * the share. Default none.
     */
    readonly sessionCleanup?: SessionCleanupArgs;
}

/**
 * Shared fleet on ACI: one container group per replica on one Azure Files share, an HAProxy group in
 * front (the same JSON-RPC health check as Docker) and Redis with a password, all on private IPs in
 * the fleet's virtual network.
 *
 * HAProxy dials the replicas by private IP, taken from each group's state. ACI can give a group a
 * new IP when it is restarted or moved during maintenance; the stale address then fails HAProxy's
 * health check (clients go to the other replicas) until the next `pulumi up --refresh` re-reads
 * the IPs and rewrites the config. docs/aci.md explains why not DNS.
 */
export class AciSharedFleet extends pulumi.ComponentResource {
    public readonly endpoint: pulumi.Output<string>;
    public readonly connectionToken: pulumi.Output<string>;
    public readonly replicas: pulumi.Output<ReplicaOutput[]>;
    public readonly redisUrl?: pulumi.Output<string>;
    public readonly sessionStatePath: string;

    constructor(name: string, args: AciSharedFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("AciSharedFleet", name, "aci", "shared", args);
        super(componentType("AciSharedFleet"), name, {}, withFormerType("copilot-fleet:aci:SharedFleet", opts));
        const edgeSubnetId = args.edgeSubnetId;
        const cliVersion = args.cliVersion ?? DEFAULT_CLI_VERSION;
        const spec = serverSpecFromArgs(args, credentialKind(args.githubToken));
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);
        const port = spec.port;
        const token =
            args.connectionToken !== undefined ? pulumi.secret(pulumi.output(args.connectionToken)) : generatedConnectionToken(name, { parent: this });
        this.connectionToken = pulumi.secret(token);

        const secrets = serverSecrets(token, args.githubToken);

        const names = replicaNames(name, args.replicas ?? DEFAULT_REPLICAS);
        const groups = names.map(
            (replica) =>
                new containerinstance.ContainerGroup(
                    replica,
                    containerGroupArgs(args, {
                        containerGroupName: replica,
                        subnetId: args.serverSubnetId,
                        containers: [renderServerContainer(spec, args.image, secrets, replica)],
                        volumes: renderServerVolumes(args.share),
                        ports: [port],
                        tags: serverTags(name, cliVersion),
                        pull: args.registry,
                    }),
                    { parent: this },
                ),
        );
        const endpoints = groups.map((g) => groupEndpoint(g.ipAddress.apply((a) => a?.ip), port));

        const lbConfig = pulumi.secret(
            pulumi.all([token, ...endpoints]).apply(([t, ...addresses]) =>
                haproxyConfig({
                    bind: `*:${port}`,
                    backends: names.map((n, i) => ({ name: n, address: addresses[i] })),
                    connectionToken: t,
                    metricsBind: `*:${HAPROXY_METRICS_PORT}`,
                }),
            ),
        );
        const cleanup = sessionCleanup === undefined ? undefined : buildCleanupSpec({ ...sessionCleanup, endpoint: `127.0.0.1:${port}`, mode: "loop" });
        const lb = new containerinstance.ContainerGroup(
            `${name}-lb`,
            containerGroupArgs(args, {
                containerGroupName: `${name}-lb`,
                subnetId: edgeSubnetId,
                containers: [renderHaproxyContainer(port), ...(cleanup ? [renderCleanupContainer(cleanup, args.image, { [SECRET_KEYS.connectionToken]: token })] : [])],
                volumes: [{ name: HAPROXY_CONFIG_VOLUME, secret: { "haproxy.cfg": secretFile(lbConfig) } }, ...(cleanup ? [sessionStateVolume(args.share)] : [])],
                ports: [port, HAPROXY_METRICS_PORT],
                tags: fleetTags(name, cliVersion, "load-balancer", "haproxy"),
                // The cleanup sidecar runs the fleet's own image.
                pull: cleanup ? args.registry : undefined,
            }),
            { parent: this },
        );

        if (args.redis ?? true) {
            const password = new random.RandomPassword(`${name}-redis-password`, { length: REDIS_PASSWORD_LENGTH, special: false }, { parent: this }).result;
            const redis = new containerinstance.ContainerGroup(
                `${name}-redis`,
                containerGroupArgs(args, {
                    containerGroupName: `${name}-redis`,
                    subnetId: edgeSubnetId,
                    containers: [renderRedisContainer(password)],
                    volumes: [{ name: REDIS_CONFIG_VOLUME, secret: { "redis.conf": secretFile(password.apply((p) => redisConf(p))) } }],
                    ports: [REDIS_PORT],
                    tags: fleetTags(name, cliVersion, "session-locks", "redis"),
                }),
                { parent: this },
            );
            this.redisUrl = pulumi.secret(pulumi.interpolate`redis://:${password}@${groupEndpoint(redis.ipAddress.apply((a) => a?.ip), REDIS_PORT)}`);
        }

        this.endpoint = groupEndpoint(lb.ipAddress.apply((a) => a?.ip), port);
        this.replicas = pulumi.all(endpoints).apply((e) => e.map((endpoint, i) => ({ name: names[i], endpoint })));
        this.sessionStatePath = spec.sessionStatePath;
        this.registerOutputs({
            endpoint: this.endpoint,
            connectionToken: this.connectionToken,
            replicas: this.replicas,
            redisUrl: this.redisUrl,
            sessionStatePath: this.sessionStatePath,
        });
    }
}
