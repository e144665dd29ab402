import * as containerinstance from "@pulumi/azure-native/containerinstance";
import * as pulumi from "@pulumi/pulumi";
import { CredentialConfig, UserConfig } from "../config";
import { UserOutput } from "../contract/outputs";
import { ENV, SECRET_KEYS, ServerSpec } from "../contract/server";
import { buildCleanupSpec, CleanupSettings } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { AciPlacement, containerGroupArgs } from "./group";
import { userGroupName } from "./naming";
import { renderCleanupContainer } from "./cleanup";
import { groupEndpoint, renderServerContainer, renderServerVolumes, serverTags } from "./render";
import { ShareRef } from "./storage";

export interface AciPerUserFleetArgs {
    readonly placement: AciPlacement;
    readonly image: pulumi.Input<string>;
    readonly cliVersion: string;
    readonly spec: ServerSpec;
    /** The service credential; a user's own `githubToken` takes precedence for that user. */
    readonly credential: CredentialConfig;
    readonly users: readonly UserConfig[];
    /** Each user's own share, by user id. */
    readonly shares: ReadonlyMap<string, ShareRef>;
    /** Run the session-cleanup sidecar in each user's group, by these settings. Default: no cleanup. */
    readonly sessionCleanup?: CleanupSettings;
}

/**
 * Per-user mode on ACI: one container group, one Azure Files share and one connection token per
 * user. The server subnet's security group denies server-to-server traffic, so one user's server
 * cannot reach another's. ACI cannot stop a group declaratively, so a suspended user has no group;
 * their share and token are kept for when they come back.
 */
export class AciPerUserFleet extends pulumi.ComponentResource {
    public readonly users: pulumi.Output<Record<string, UserOutput>>;
    public readonly sessionStatePath: string;

    constructor(name: string, args: AciPerUserFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("copilot-fleet:aci:PerUserFleet", name, {}, opts);
        const entries: Array<pulumi.Output<[string, UserOutput]>> = [];
        // The sidecar shares the group's localhost with that user's server, and only that user's share and token.
        const cleanup = args.sessionCleanup === undefined ? undefined : buildCleanupSpec({ ...args.sessionCleanup, endpoint: `127.0.0.1:${args.spec.port}`, mode: "loop" });
        for (const user of args.users) {
            const groupName = userGroupName(name, user.id);
            const share = args.shares.get(user.id);
            if (share === undefined) throw new pulumi.ResourceError(`no session-state share for user ${JSON.stringify(user.id)}`, this);
            const token = generatedConnectionToken(groupName, { parent: this });
            const secrets: Record<string, pulumi.Input<string>> = { [SECRET_KEYS.connectionToken]: token };
            const githubToken = user.githubToken ?? (args.credential.kind === "githubToken" ? args.credential.githubToken : undefined);
            if (githubToken !== undefined) secrets[SECRET_KEYS.githubToken] = githubToken;
            const spec: ServerSpec =
                githubToken !== undefined && !args.spec.secretEnv.some((e) => e.secretKey === SECRET_KEYS.githubToken)
                    ? { ...args.spec, secretEnv: [...args.spec.secretEnv, { name: ENV.githubToken, secretKey: SECRET_KEYS.githubToken }] }
                    : args.spec;
            let endpoint: pulumi.Output<string> = pulumi.output("");
            if (!user.suspended) {
                const group = new containerinstance.ContainerGroup(
                    groupName,
                    containerGroupArgs(args.placement, {
                        containerGroupName: groupName,
                        subnetId: args.placement.serverSubnetId,
                        containers: [
                            renderServerContainer(spec, args.image, secrets, groupName),
                            ...(cleanup ? [renderCleanupContainer(cleanup, args.image, { [SECRET_KEYS.connectionToken]: token })] : []),
                        ],
                        volumes: renderServerVolumes(share),
                        ports: [spec.port],
                        tags: serverTags(name, args.cliVersion, user.id),
                        pull: args.placement.pull,
                    }),
                    { parent: this, dependsOn: args.placement.dependsOn },
                );
                endpoint = groupEndpoint(group.ipAddress.apply((a) => a?.ip), spec.port);
            }
            entries.push(pulumi.all([endpoint, token]).apply(([e, connectionToken]) => [user.id, { endpoint: e, connectionToken, suspended: user.suspended }] as [string, UserOutput]));
        }
        this.users = pulumi.secret(pulumi.all(entries).apply((e) => Object.fromEntries(e)));
        this.sessionStatePath = args.spec.sessionStatePath;
        this.registerOutputs({ users: this.users, sessionStatePath: this.sessionStatePath });
    }
}
