import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION } from "../config";
import { assertArgs } from "../config/args";
import { cleanupSettingsFromArgs, credentialKind, serverSpecsFromArgs, SessionCleanupArgs, UserArgs, userCredentialKind, userSecretData } from "../contract/args";
import { UserOutput } from "../contract/outputs";
import { SECRET_KEYS } from "../contract/server";
import { buildCleanupSpec } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { componentType, withFormerType } from "../contract/types";
import { DockerSessionCleanup } from "./cleanup";
import { bridgeNetwork, imageId, publishedEndpoint, renderServerContainer, CONTAINER_OPTIONS } from "./render";
import { DockerServerSettingsArgs, fleetLabels, sessionStateVolume } from "./sharedFleet";
import { SUSPENDED_MARKER, SuspenderUserEntry } from "../contract/suspend";
import { DockerIdleSuspender } from "./suspender";

/**
 * What a consumer passes to {@link DockerPerUserFleet}: plain values, each optional one with its
 * default. `githubToken` is the fleet's service token, used by users without their own.
 */
export interface DockerPerUserFleetArgs extends DockerServerSettingsArgs {
    /** Image reference, ideally pinned (CopilotImage output, or a prebuilt image). */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` label. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** The users; each gets its own server, volume, network and token. Ids are lowercase DNS labels, unique. */
    readonly users: UserArgs[];
    /** Session cleanup (TTL, interval): a loop-mode container per user, on that user's network. Default none. */
    readonly sessionCleanup?: SessionCleanupArgs;
    /** `protect` on each user's volume. Default false (a laptop stack). */
    readonly protectSessionState?: boolean;
    /** Stop a user's container after this many minutes without session activity (a suspender container, components/docker/suspender.ts). Default off. */
    readonly idleSuspendMinutes?: number;
    /** The suspender's Node.js image. Default DEFAULT_SUSPENDER_IMAGE. */
    readonly suspenderImage?: string;
}

/**
 * Per-user mode on the local Docker engine: one CLI container, one volume, one network and one
 * connection token per user. Each user gets a network of their own, so one user's server cannot
 * reach another's. Suspended users keep their volume; their container is stopped (`mustRun` false,
 * not started).
 */
export class DockerPerUserFleet extends pulumi.ComponentResource {
    public readonly users: pulumi.Output<Record<string, UserOutput>>;
    public readonly sessionStatePath: string;

    constructor(name: string, args: DockerPerUserFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("DockerPerUserFleet", name, "docker", "per-user", args);
        super(componentType("DockerPerUserFleet"), name, {}, withFormerType("copilot-fleet:docker:PerUserFleet", opts));
        const specFor = serverSpecsFromArgs(args);
        const fleetSpec = specFor(credentialKind(args.githubToken));
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);
        const cliVersion = args.cliVersion ?? DEFAULT_CLI_VERSION;
        const entries: Array<pulumi.Output<[string, UserOutput]>> = [];
        const image = imageId(`${name}-server-image`, args.image, this);
        const idleSuspend = args.idleSuspendMinutes !== undefined;
        const suspendTargets: Array<pulumi.Output<[string, SuspenderUserEntry]>> = [];
        const networks: pulumi.Output<string>[] = [];
        for (const user of args.users) {
            const suspended = user.suspended === true;
            const base = `${name}-u-${user.id}`;
            const labels = { ...fleetLabels(name, cliVersion), "copilot-fleet.github.com/user": user.id };
            // With idle suspend the server container's label tells a wake whether config suspends this user
            // (on the container only: a label is part of what a network or volume is).
            const serverLabels = idleSuspend ? { ...labels, [SUSPENDED_MARKER]: String(suspended) } : labels;
            const token = generatedConnectionToken(base, { parent: this });
            const network = bridgeNetwork(`${base}-net`, labels, this);
            const volume = sessionStateVolume(`${base}-session-state`, labels, this, args.protectSessionState ?? false);
            const secrets = userSecretData(token, user, args.githubToken);
            const spec = specFor(userCredentialKind(user, args.githubToken));
            const container = new docker.Container(
                base,
                {
                    name: base,
                    ...renderServerContainer(spec, { image, network: network.name, alias: base, volume: volume.name, secrets, labels: serverLabels }),
                    start: !suspended,
                    // mustRun would make `pulumi up` replace a container the suspender stopped.
                    mustRun: !suspended && !idleSuspend,
                },
                // The provider starts or stops a container only when it creates it: a change of `start`
                // alone left a suspended user's server running (found by a real `pulumi up`). So a
                // suspend or resume replaces the container; the volume, and so the sessions, stay.
                { parent: this, ...CONTAINER_OPTIONS, replaceOnChanges: ["start", "mustRun"] },
            );
            const cleanupName = `${base}-session-cleanup`;
            if (sessionCleanup) {
                new DockerSessionCleanup(
                    cleanupName,
                    {
                        spec: buildCleanupSpec({ ...sessionCleanup, endpoint: `${base}:${spec.port}`, mode: "loop" }),
                        image,
                        network: network.name,
                        volume: volume.name,
                        secrets: { [SECRET_KEYS.connectionToken]: token },
                        labels,
                        running: !suspended,
                        idleSuspend,
                    },
                    { parent: this, dependsOn: [container] },
                );
            }
            entries.push(
                pulumi
                    .all([publishedEndpoint(container), token])
                    .apply(([endpoint, connectionToken]) => [user.id, { endpoint, connectionToken, suspended, ...(idleSuspend ? { server: base } : {}) }] as [string, UserOutput]),
            );
            if (idleSuspend) {
                networks.push(network.name);
                // The cleanup container dials the server: it stops with it and the suspender starts it again once the server runs.
                const companions = sessionCleanup ? { companions: [cleanupName] } : {};
                suspendTargets.push(token.apply((t) => [user.id, { endpoint: `${base}:${spec.port}`, connectionToken: t, server: base, ...companions }] as [string, SuspenderUserEntry]));
            }
        }
        if (args.idleSuspendMinutes !== undefined) {
            new DockerIdleSuspender(
                `${name}-idle-suspender`,
                { idleMinutes: args.idleSuspendMinutes, users: pulumi.secret(pulumi.all(suspendTargets).apply((e) => Object.fromEntries(e))), networks, labels: fleetLabels(name, cliVersion), image: args.suspenderImage },
                { parent: this },
            );
        }
        this.users = pulumi.secret(pulumi.all(entries).apply((e) => Object.fromEntries(e)));
        this.sessionStatePath = fleetSpec.sessionStatePath;
        this.registerOutputs({ users: this.users, sessionStatePath: this.sessionStatePath });
    }
}
