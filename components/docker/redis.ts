import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { componentType, withFormerType } from "../contract/types";
import { REDIS_IMAGE, REDIS_PASSWORD_LENGTH, REDIS_PORT, REDIS_UID, redisConf } from "../contract/redis";
import { bridgeNetwork, HELPER_LIMITS, publishedEndpoint, stableLabels, CONTAINER_OPTIONS } from "./render";

export const REDIS_CONF_PATH = "/usr/local/etc/redis/redis.conf";

export interface DockerRedisArgs {
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * Redis for session locks with a generated password, published on loopback only, on a network of
 * its own: the clients are on the host (the published port), and the servers never take locks, so
 * a prompt-injected tool on a server cannot even open a connection to it. The network is a plain
 * bridge, not `internal`: engines differ on whether ports published from internal networks work.
 */
export class DockerRedis extends pulumi.ComponentResource {
    /** `redis://:<password>@127.0.0.1:<port>` for clients on this machine (secret). */
    public readonly url: pulumi.Output<string>;
    /** `redis://:<password>@<name>:6379` for containers attached to Redis's own network (secret). */
    public readonly networkUrl: pulumi.Output<string>;

    constructor(name: string, args: DockerRedisArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("DockerRedis"), name, {}, withFormerType("copilot-fleet:docker:Redis", opts));
        const network = bridgeNetwork(`${name}-net`, args.labels, this);
        const password = new random.RandomPassword(`${name}-password`, { length: REDIS_PASSWORD_LENGTH, special: false }, { parent: this });
        const image = new docker.RemoteImage(`${name}-image`, { name: REDIS_IMAGE, keepLocally: true }, { parent: this });
        const container = new docker.Container(
            name,
            {
                name,
                image: image.imageId,
                command: ["redis-server", REDIS_CONF_PATH],
                // The password is in the uploaded config file (a Pulumi secret), not in args.
                uploads: [{ file: REDIS_CONF_PATH, content: pulumi.secret(password.result.apply((p) => redisConf(p))), permissions: "0440", owner: String(REDIS_UID), group: String(REDIS_UID) }],
                envs: [pulumi.secret(pulumi.interpolate`REDISCLI_AUTH=${password.result}`)],
                user: `${REDIS_UID}:${REDIS_UID}`,
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                networksAdvanced: [{ name: network.name, aliases: [name] }],
                ports: [{ internal: REDIS_PORT, ip: "127.0.0.1" }],
                healthcheck: { tests: ["CMD-SHELL", "redis-cli -h 127.0.0.1 ping | grep -q PONG"], interval: "5s", timeout: "2s", retries: 3 },
                ...HELPER_LIMITS,
                restart: "unless-stopped",
                // Not replaced (and its locks not lost) by a CLI upgrade: stable labels.
                labels: stableLabels(args.labels),
            },
            { parent: this, ...CONTAINER_OPTIONS },
        );
        this.url = pulumi.secret(pulumi.interpolate`redis://:${password.result}@${publishedEndpoint(container)}`);
        this.networkUrl = pulumi.secret(pulumi.interpolate`redis://:${password.result}@${name}:${REDIS_PORT}`);
        this.registerOutputs({ url: this.url, networkUrl: this.networkUrl });
    }
}
