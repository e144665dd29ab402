import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CredentialConfig, UserConfig } from "../config";
import { UserOutput } from "../contract/outputs";
import { ENV, SECRET_KEYS, ServerSpec } from "../contract/server";
import { buildCleanupSpec, CleanupSettings } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { DockerSessionCleanup } from "./cleanup";
import { bridgeNetwork, imageId, publishedEndpoint, renderServerContainer, CONTAINER_OPTIONS } from "./render";
import { fleetLabels, sessionStateVolume } from "./sharedFleet";

export interface DockerPerUserFleetArgs {
    readonly image: pulumi.Input<string>;
    readonly cliVersion: string;
    readonly spec: ServerSpec;
    /** The service credential; a user's own `githubToken` takes precedence for that user. */
    readonly credential: CredentialConfig;
    readonly users: readonly UserConfig[];
    /** Session cleanup (TTL, interval): a loop-mode container per user, on that user's network. Default none. */
    readonly sessionCleanup?: CleanupSettings;
    /** `protect` on each user's volume. Default false (a laptop stack). */
    readonly protectSessionState?: boolean;
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
        super("copilot-fleet:docker:PerUserFleet", name, {}, opts);
        const entries: Array<pulumi.Output<[string, UserOutput]>> = [];
        const image = imageId(`${name}-server-image`, args.image, this);
        for (const user of args.users) {
            const base = `${name}-u-${user.id}`;
            const labels = { ...fleetLabels(name, args.cliVersion), "copilot-fleet.github.com/user": user.id };
            const token = generatedConnectionToken(base, { parent: this });
            const network = bridgeNetwork(`${base}-net`, labels, this);
            const volume = sessionStateVolume(`${base}-session-state`, labels, this, args.protectSessionState ?? false);
            const secrets: Record<string, pulumi.Input<string>> = { [SECRET_KEYS.connectionToken]: token };
            const githubToken = user.githubToken ?? (args.credential.kind === "githubToken" ? args.credential.githubToken : undefined);
            if (githubToken !== undefined) secrets[SECRET_KEYS.githubToken] = githubToken;
            const spec: ServerSpec =
                githubToken !== undefined && !args.spec.secretEnv.some((e) => e.secretKey === SECRET_KEYS.githubToken)
                    ? { ...args.spec, secretEnv: [...args.spec.secretEnv, { name: ENV.githubToken, secretKey: SECRET_KEYS.githubToken }] }
                    : args.spec;
            const container = new docker.Container(
                base,
                {
                    name: base,
                    ...renderServerContainer(spec, { image, network: network.name, alias: base, volume: volume.name, secrets, labels }),
                    start: !user.suspended,
                    mustRun: !user.suspended,
                },
                // The provider starts or stops a container only when it creates it: a change of `start`
                // alone left a suspended user's server running (found by a real `pulumi up`). So a
                // suspend or resume replaces the container; the volume, and so the sessions, stay.
                { parent: this, ...CONTAINER_OPTIONS, replaceOnChanges: ["start", "mustRun"] },
            );
            if (args.sessionCleanup) {
                new DockerSessionCleanup(
                    `${base}-session-cleanup`,
                    {
                        spec: buildCleanupSpec({ ...args.sessionCleanup, endpoint: `${base}:${spec.port}`, mode: "loop" }),
                        image,
                        network: network.name,
                        volume: volume.name,
                        secrets: { [SECRET_KEYS.connectionToken]: token },
                        labels,
                        running: !user.suspended,
                    },
                    { parent: this, dependsOn: [container] },
                );
            }
            entries.push(
                pulumi.all([publishedEndpoint(container), token]).apply(([endpoint, connectionToken]) => [user.id, { endpoint, connectionToken, suspended: user.suspended }] as [string, UserOutput]),
            );
        }
        this.users = pulumi.secret(pulumi.all(entries).apply((e) => Object.fromEntries(e)));
        this.sessionStatePath = args.spec.sessionStatePath;
        this.registerOutputs({ users: this.users, sessionStatePath: this.sessionStatePath });
    }
}
