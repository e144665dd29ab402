import * as containerinstance from "@pulumi/azure-native/containerinstance";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CredentialConfig, DEFAULT_REPLICAS } from "../config";
import { HAPROXY_METRICS_PORT, haproxyConfig } from "../contract/haproxy";
import { ReplicaOutput, replicaNames } from "../contract/outputs";
import { REDIS_PASSWORD_LENGTH, REDIS_PORT, redisConf } from "../contract/redis";
import { SECRET_KEYS, ServerSpec } from "../contract/server";
import { buildCleanupSpec, CleanupSettings } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { AciPlacement, containerGroupArgs } from "./group";
import { renderCleanupContainer } from "./cleanup";
import { fleetTags, groupEndpoint, HAPROXY_CONFIG_VOLUME, REDIS_CONFIG_VOLUME, renderHaproxyContainer, renderRedisContainer, renderServerContainer, renderServerVolumes, secretFile, serverTags, sessionStateVolume } from "./render";
import { ShareRef } from "./storage";

export interface AciSharedFleetArgs {
    readonly placement: AciPlacement;
    /** Image reference (CopilotImage output in the stack's registry, or the `image` config key). */
    readonly image: pulumi.Input<string>;
    readonly cliVersion: string;
    /** The CLI server spec (components/contract/server.ts). */
    readonly spec: ServerSpec;
    readonly credential: CredentialConfig;
    /** The one share every replica mounts at the session-state path. */
    readonly share: ShareRef;
    /** Number of CLI server groups. Default 3. */
    readonly replicas?: number;
    /** Connection token; default generated. */
    readonly connectionToken?: pulumi.Input<string>;
    /** Run Redis for session locks. Default true. */
    readonly redis?: boolean;
    /**
     * Run the session-cleanup tool (loop mode) as a sidecar of the load-balancer group with these
     * settings (TTL, interval): it reaches a server through HAProxy on the group's localhost and
     * mounts the share. Default: no cleanup.
     */
    readonly sessionCleanup?: CleanupSettings;
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
        super("copilot-fleet:aci:SharedFleet", name, {}, opts);
        const edgeSubnetId = args.placement.edgeSubnetId;
        if (edgeSubnetId === undefined) throw new pulumi.ResourceError("a shared ACI fleet needs the edge subnet for its load balancer and Redis", this);
        const port = args.spec.port;
        const token =
            args.connectionToken !== undefined ? pulumi.secret(pulumi.output(args.connectionToken)) : generatedConnectionToken(name, { parent: this });
        this.connectionToken = pulumi.secret(token);

        const secrets: Record<string, pulumi.Input<string>> = { [SECRET_KEYS.connectionToken]: token };
        if (args.credential.kind === "githubToken") secrets[SECRET_KEYS.githubToken] = args.credential.githubToken;

        const names = replicaNames(name, args.replicas ?? DEFAULT_REPLICAS);
        const groups = names.map(
            (replica) =>
                new containerinstance.ContainerGroup(
                    replica,
                    containerGroupArgs(args.placement, {
                        containerGroupName: replica,
                        subnetId: args.placement.serverSubnetId,
                        containers: [renderServerContainer(args.spec, args.image, secrets, replica)],
                        volumes: renderServerVolumes(args.share),
                        ports: [port],
                        tags: serverTags(name, args.cliVersion),
                        pull: args.placement.pull,
                    }),
                    { parent: this, dependsOn: args.placement.dependsOn },
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
        const cleanup =
            args.sessionCleanup === undefined ? undefined : buildCleanupSpec({ ...args.sessionCleanup, endpoint: `127.0.0.1:${port}`, mode: "loop" });
        const lb = new containerinstance.ContainerGroup(
            `${name}-lb`,
            containerGroupArgs(args.placement, {
                containerGroupName: `${name}-lb`,
                subnetId: edgeSubnetId,
                containers: [renderHaproxyContainer(port), ...(cleanup ? [renderCleanupContainer(cleanup, args.image, { [SECRET_KEYS.connectionToken]: token })] : [])],
                volumes: [{ name: HAPROXY_CONFIG_VOLUME, secret: { "haproxy.cfg": secretFile(lbConfig) } }, ...(cleanup ? [sessionStateVolume(args.share)] : [])],
                ports: [port, HAPROXY_METRICS_PORT],
                tags: fleetTags(name, args.cliVersion, "load-balancer", "haproxy"),
                // The cleanup sidecar runs the fleet's own image.
                pull: cleanup ? args.placement.pull : undefined,
            }),
            { parent: this, dependsOn: cleanup ? args.placement.dependsOn : undefined },
        );

        if (args.redis ?? true) {
            const password = new random.RandomPassword(`${name}-redis-password`, { length: REDIS_PASSWORD_LENGTH, special: false }, { parent: this }).result;
            const redis = new containerinstance.ContainerGroup(
                `${name}-redis`,
                containerGroupArgs(args.placement, {
                    containerGroupName: `${name}-redis`,
                    subnetId: edgeSubnetId,
                    containers: [renderRedisContainer(password)],
                    volumes: [{ name: REDIS_CONFIG_VOLUME, secret: { "redis.conf": secretFile(password.apply((p) => redisConf(p))) } }],
                    ports: [REDIS_PORT],
                    tags: fleetTags(name, args.cliVersion, "session-locks", "redis"),
                }),
                { parent: this },
            );
            this.redisUrl = pulumi.secret(pulumi.interpolate`redis://:${password}@${groupEndpoint(redis.ipAddress.apply((a) => a?.ip), REDIS_PORT)}`);
        }

        this.endpoint = groupEndpoint(lb.ipAddress.apply((a) => a?.ip), port);
        this.replicas = pulumi.all(endpoints).apply((e) => e.map((endpoint, i) => ({ name: names[i], endpoint })));
        this.sessionStatePath = args.spec.sessionStatePath;
        this.registerOutputs({
            endpoint: this.endpoint,
            connectionToken: this.connectionToken,
            replicas: this.replicas,
            redisUrl: this.redisUrl,
            sessionStatePath: this.sessionStatePath,
        });
    }
}
