import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION, DEFAULT_REPLICAS } from "../config";
import { assertArgs } from "../config/args";
import { cleanupSettingsFromArgs, credentialKind, serverSecrets, ServerSettingsArgs, serverSpecFromArgs, SessionCleanupArgs } from "../contract/args";
import { HAPROXY_CONFIG_PATH, HAPROXY_IMAGE, HAPROXY_METRICS_PORT, haproxyConfig, RESOLV_CONF } from "../contract/haproxy";
import { ReplicaOutput, replicaNames } from "../contract/outputs";
import { SECRET_KEYS } from "../contract/server";
import { buildCleanupSpec } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { componentType, withFormerType } from "../contract/types";
import { DockerSessionCleanup } from "./cleanup";
import { DockerRedis } from "./redis";
import { bridgeNetwork, HELPER_LIMITS, imageId, stableLabels, publishedEndpoint, renderServerContainer, CONTAINER_OPTIONS } from "./render";

/**
 * The engine's DNS, which resolves container names on user-defined networks, as the container's
 * resolv.conf names it. Not Docker's fixed 127.0.0.11: podman's Docker API serves names from
 * aardvark-dns at the network gateway, and a balancer pinned to 127.0.0.11 there never re-resolved a
 * replica (a real CLI upgrade on podman left it with no backend up).
 */
export const ENGINE_DNS = RESOLV_CONF;

/**
 * The server settings the Docker fleets take: every {@link ServerSettingsArgs} but the egress ones,
 * because the local engine cannot filter a container's outbound traffic (docs/security.md "Egress").
 */
export type DockerServerSettingsArgs = Omit<ServerSettingsArgs, "egressAllowedCidrs" | "egressEndpoints">;

/**
 * What a consumer passes to {@link DockerSharedFleet}: plain values, each optional one with its
 * default. Everything is published on 127.0.0.1 only, so there is no exposure argument.
 */
export interface DockerSharedFleetArgs extends DockerServerSettingsArgs {
    /** Image reference, ideally pinned (CopilotImage output, or a prebuilt image). */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` label. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** Number of CLI server containers. Default 3. */
    readonly replicas?: number;
    /** Connection token every client must present (a secret). Default: generated (RandomPassword). */
    readonly connectionToken?: pulumi.Input<string>;
    /** Run Redis for session locks (published on 127.0.0.1). Default true. */
    readonly redis?: boolean;
    /** Session cleanup (TTL, interval): one loop-mode container through the load balancer. Default none. */
    readonly sessionCleanup?: SessionCleanupArgs;
    /** `protect` on the session-state volume: no update or destroy deletes or replaces it. Default false (a laptop stack). */
    readonly protectSessionState?: boolean;
}

export function fleetLabels(fleet: string, cliVersion: string): Record<string, string> {
    return { "app.kubernetes.io/part-of": "copilot-fleet", "app.kubernetes.io/instance": fleet, "app.kubernetes.io/version": cliVersion };
}

/**
 * A session-state volume: every property of a Docker volume forces a new one (labels too), and a new
 * volume is an empty one. So its labels never carry the CLI version, and label changes are ignored
 * (volumes made before the version was left out keep theirs rather than being recreated).
 */
export function sessionStateVolume(name: string, labels: Readonly<Record<string, string>>, parent: pulumi.Resource, protect: boolean): docker.Volume {
    return new docker.Volume(name, { name, labels: stableLabels(labels) }, { parent, protect, ignoreChanges: ["labels"] });
}

/**
 * Shared fleet on the local Docker engine: N CLI containers on one named volume at the
 * session-state path, HAProxy in front (JSON-RPC health check), Redis with a password; everything on
 * a private network and published on 127.0.0.1 only.
 */
export class DockerSharedFleet extends pulumi.ComponentResource {
    public readonly endpoint: pulumi.Output<string>;
    public readonly connectionToken: pulumi.Output<string>;
    public readonly replicas: pulumi.Output<ReplicaOutput[]>;
    public readonly redisUrl?: pulumi.Output<string>;
    public readonly sessionStatePath: string;

    constructor(name: string, args: DockerSharedFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("DockerSharedFleet", name, "docker", "shared", args);
        super(componentType("DockerSharedFleet"), name, {}, withFormerType("copilot-fleet:docker:SharedFleet", opts));
        const spec = serverSpecFromArgs(args, credentialKind(args.githubToken));
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);
        const labels = fleetLabels(name, args.cliVersion ?? DEFAULT_CLI_VERSION);
        const token =
            args.connectionToken !== undefined
                ? pulumi.secret(pulumi.output(args.connectionToken))
                : generatedConnectionToken(name, { parent: this });
        this.connectionToken = pulumi.secret(token);

        const network = bridgeNetwork(`${name}-net`, labels, this);
        const volume = sessionStateVolume(`${name}-session-state`, labels, this, args.protectSessionState ?? false);
        const image = imageId(`${name}-server-image`, args.image, this);

        const secrets = serverSecrets(token, args.githubToken);

        const names = replicaNames(name, args.replicas ?? DEFAULT_REPLICAS);
        const containers = names.map(
            (replica) =>
                new docker.Container(
                    replica,
                    {
                        name: replica,
                        ...renderServerContainer(spec, { image, network: network.name, alias: replica, volume: volume.name, secrets, labels }),
                    },
                    { parent: this, ...CONTAINER_OPTIONS },
                ),
        );

        const lbImage = new docker.RemoteImage(`${name}-lb-image`, { name: HAPROXY_IMAGE, keepLocally: true }, { parent: this });
        const lbConfig = pulumi.secret(
            pulumi.output(token).apply((t) =>
                haproxyConfig({
                    bind: `*:${spec.port}`,
                    backends: names.map((n) => ({ name: n, address: `${n}:${spec.port}` })),
                    connectionToken: t,
                    resolver: ENGINE_DNS,
                    metricsBind: `*:${HAPROXY_METRICS_PORT}`,
                }),
            ),
        );
        const lb = new docker.Container(
            `${name}-lb`,
            {
                name: `${name}-lb`,
                image: lbImage.imageId,
                // The config holds the token (health check): uploaded as a secret, readable by haproxy only.
                uploads: [{ file: HAPROXY_CONFIG_PATH, content: lbConfig, permissions: "0440", owner: "99", group: "99" }],
                user: "99:99",
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                networksAdvanced: [{ name: network.name, aliases: [`${name}-lb`] }],
                // The client port first (the smoke suite reads it), then Prometheus `/metrics`; loopback only.
                ports: [
                    { internal: spec.port, ip: "127.0.0.1" },
                    { internal: HAPROXY_METRICS_PORT, ip: "127.0.0.1" },
                ],
                // The frontend accepts connections (the backends have their own JSON-RPC checks).
                healthcheck: { tests: ["CMD-SHELL", `exec 3<>/dev/tcp/127.0.0.1/${spec.port}`], interval: "10s", timeout: "2s", retries: 3 },
                ...HELPER_LIMITS,
                restart: "unless-stopped",
                // Not replaced by a CLI upgrade: stable labels.
                labels: stableLabels(labels),
            },
            { parent: this, dependsOn: containers, ...CONTAINER_OPTIONS },
        );

        if (sessionCleanup) {
            new DockerSessionCleanup(
                `${name}-session-cleanup`,
                {
                    spec: buildCleanupSpec({ ...sessionCleanup, endpoint: `${name}-lb:${spec.port}`, mode: "loop" }),
                    image,
                    network: network.name,
                    volume: volume.name,
                    secrets: { [SECRET_KEYS.connectionToken]: token },
                    labels,
                },
                { parent: this, dependsOn: [lb] },
            );
        }

        if (args.redis ?? true) {
            this.redisUrl = new DockerRedis(`${name}-redis`, { labels }, { parent: this }).url;
        }

        this.endpoint = publishedEndpoint(lb);
        this.replicas = pulumi.all(containers.map((c, i) => publishedEndpoint(c).apply((endpoint) => ({ name: names[i], endpoint }))));
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
