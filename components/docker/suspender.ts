/**
 * The idle suspender on the local Docker engine (the dev stack): one container per per-user fleet
 * that stops idle users' containers through the engine's socket (components/contract/suspend.ts says
 * what runs and why in a Node.js image). It joins every user's network to ask each server about its
 * sessions, so it is the one container that can reach every user's server: it holds their tokens anyway.
 *
 * The engine socket is root on the host whatever uid the container runs as, which is why this is the
 * dev stack's suspender only (docs/docker.md); Kubernetes gets RBAC limited to the user Deployments.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
    DEFAULT_SUSPENDER_IMAGE,
    SUSPENDER_CODE_DIR,
    SUSPENDER_RESOURCES,
    SUSPENDER_USERS_FILE,
    suspenderCode,
    suspenderEnv,
    suspenderIntervalSeconds,
    suspenderProbeCommand,
    suspenderUsersJson,
    SuspenderUserEntry,
} from "../contract/suspend";
import { CONTAINER_OPTIONS, goDuration, imageId, quantityToCpus, quantityToMegabytes } from "./render";
import { componentType } from "../contract/types";

/** Where the engine's socket is in the suspender's container (and, by default, on the host). */
export const DOCKER_SOCKET = "/var/run/docker.sock";

/**
 * The engine's socket on the host, for the suspender's bind mount: the unix path the Docker provider
 * is pointed at (`docker:host` config, else DOCKER_HOST), so a podman, rootless Docker or context
 * socket works; DOCKER_SOCKET for the default engine or a non-unix host.
 */
export function hostEngineSocket(dockerHost: string | undefined): string {
    return dockerHost?.startsWith("unix://") ? dockerHost.slice("unix://".length) : DOCKER_SOCKET;
}

export interface DockerIdleSuspenderArgs {
    readonly idleMinutes: number;
    /** user id → where the suspender dials that user's server (on their network), its token, and its container. */
    readonly users: pulumi.Input<Record<string, pulumi.Input<SuspenderUserEntry>>>;
    /** Every user's network (the suspender joins each). */
    readonly networks: readonly pulumi.Input<string>[];
    readonly labels: Readonly<Record<string, string>>;
    /** Default DEFAULT_SUSPENDER_IMAGE. */
    readonly image?: string;
    /** The engine's socket on the host. Default hostEngineSocket of `docker:host` config, else DOCKER_HOST. */
    readonly engineSocket?: string;
}

export class DockerIdleSuspender extends pulumi.ComponentResource {
    public readonly containerName: pulumi.Output<string>;

    constructor(name: string, args: DockerIdleSuspenderArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("DockerIdleSuspender"), name, {}, opts);
        const code = suspenderCode();
        const usersJson = pulumi.secret(pulumi.output(args.users).apply((u) => suspenderUsersJson(u as Record<string, SuspenderUserEntry>)));
        const probe = suspenderProbeCommand(args.idleMinutes);
        const container = new docker.Container(
            name,
            {
                name,
                image: imageId(`${name}-image`, args.image ?? DEFAULT_SUSPENDER_IMAGE, this),
                command: ["node", `${SUSPENDER_CODE_DIR}/suspender-main.js`],
                envs: Object.entries(suspenderEnv("docker", args.idleMinutes)).map(([k, v]) => `${k}=${v}`),
                uploads: [
                    ...Object.entries(code).map(([file, content]) => ({ file: `${SUSPENDER_CODE_DIR}/${file}`, content })),
                    { file: SUSPENDER_USERS_FILE, content: usersJson },
                ],
                mounts: [{ type: "bind", source: args.engineSocket ?? hostEngineSocket(new pulumi.Config("docker").get("host") ?? process.env.DOCKER_HOST), target: DOCKER_SOCKET }],
                networksAdvanced: args.networks.map((n) => ({ name: n })),
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                // Durations in the form the provider reads back (goDuration), or every up would replace it.
                healthcheck: { tests: ["CMD", ...probe], interval: goDuration(suspenderIntervalSeconds(args.idleMinutes)), timeout: goDuration(5), retries: 3, startPeriod: goDuration(30) },
                memory: quantityToMegabytes(SUSPENDER_RESOURCES.memoryLimit),
                memorySwap: quantityToMegabytes(SUSPENDER_RESOURCES.memoryLimit),
                memoryReservation: quantityToMegabytes(SUSPENDER_RESOURCES.memoryRequest),
                cpus: quantityToCpus(SUSPENDER_RESOURCES.cpuLimit),
                restart: "unless-stopped",
                labels: Object.entries({ ...args.labels, "app.kubernetes.io/component": "idle-suspender" }).map(([label, value]) => ({ label, value })),
                logDriver: "json-file",
                logOpts: { "max-size": "10m", "max-file": "3" },
            },
            { parent: this, ...CONTAINER_OPTIONS },
        );
        this.containerName = container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
