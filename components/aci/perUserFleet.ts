import * as containerinstance from "@pulumi/azure-native/containerinstance";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION } from "../config";
import { assertArgs } from "../config/args";
import { cleanupSettingsFromArgs, credentialKind, serverSpecsFromArgs, SessionCleanupArgs, UserArgs, userCredentialKind, userSecretData } from "../contract/args";
import { UserOutput } from "../contract/outputs";
import { SECRET_KEYS } from "../contract/server";
import { buildCleanupSpec } from "../contract/cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { AciPlacementArgs, containerGroupArgs } from "./group";
import { assertDistinct, userGroupName } from "./naming";
import { renderCleanupContainer } from "./cleanup";
import { AzureFileShareRef, groupEndpoint, renderServerContainer, renderServerVolumes, serverTags } from "./render";
import { AciServerSettingsArgs } from "./sharedFleet";
import { componentType, withFormerType } from "../contract/types";
import { azureTagKey } from "../contract/labels";
import { SUSPENDED_MARKER, SuspenderUserEntry } from "../contract/suspend";
import { AciIdleSuspender } from "./suspender";

/**
 * What a consumer passes to {@link AciPerUserFleet}: plain values, each optional one with its
 * default. `githubToken` is the fleet's service token, used by users without their own.
 */
export interface AciPerUserFleetArgs extends AciServerSettingsArgs, AciPlacementArgs {
    /** Image reference, ideally pinned by digest (CopilotImage output in the stack's registry, or a prebuilt image). */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` tag. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** The users; each gets its own container group, share and token. Ids are lowercase DNS labels, unique. */
    readonly users: UserArgs[];
    /** Each user's own Azure Files share, by user id (AciStorage's `shares`; `userShareName(id)` names them). */
    readonly shares: Record<string, AzureFileShareRef>;
    /** Session cleanup (TTL, interval): a loop-mode sidecar in each user's group. Default none. */
    readonly sessionCleanup?: SessionCleanupArgs;
    /**
     * Stop a user's container group after this many minutes without session activity (an idle
     * suspender group with its own identity, components/aci/suspender.ts). Needs `suspenderSubnetId`. Default off.
     */
    readonly idleSuspendMinutes?: number;
    /** The suspender's subnet (AciNetwork's `controlSubnetId`, created with `idleSuspend: true`). */
    readonly suspenderSubnetId?: pulumi.Input<string>;
    /** The suspender's Node.js image (public). Default DEFAULT_SUSPENDER_IMAGE. */
    readonly suspenderImage?: string;
}

/**
 * Per-user mode on ACI: one container group, one Azure Files share and one connection token per
 * user. The server subnet's security group denies server-to-server traffic, so one user's server
 * cannot reach another's. ACI cannot stop a group declaratively, so a suspended user has no group;
 * their share and token are kept for when they come back. With `idleSuspendMinutes` an idle
 * suspender stops idle users' groups (billing stops) and a backend's `ensureRunning` starts them;
 * Pulumi sets nothing a stop changes, so `pulumi up` leaves a stopped group stopped.
 */
export class AciPerUserFleet extends pulumi.ComponentResource {
    public readonly users: pulumi.Output<Record<string, UserOutput>>;
    public readonly sessionStatePath: string;
    /** With idle suspend: the custom role (read, start, stop a container group) to assign a backend's identity on each user's group. */
    public readonly suspenderRoleDefinitionId?: pulumi.Output<string>;

    constructor(name: string, args: AciPerUserFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("AciPerUserFleet", name, "aci", "per-user", args);
        const unshared = args.users.filter((u) => args.shares[u.id] === undefined).map((u) => u.id);
        if (unshared.length > 0) {
            const reason = `has no share for user${unshared.length === 1 ? "" : "s"} ${unshared.map((id) => JSON.stringify(id)).join(", ")}; give every user id in users a share`;
            throw new pulumi.InputPropertiesError({ message: `AciPerUserFleet ${JSON.stringify(name)}: shares ${reason}`, errors: [{ propertyPath: "shares", reason }] });
        }
        if (args.idleSuspendMinutes !== undefined && args.suspenderSubnetId === undefined) {
            const reason = `is not set, but idleSuspendMinutes is ${args.idleSuspendMinutes}; pass AciNetwork's controlSubnetId (create the network with idleSuspend: true): the suspender may not sit in the server subnet, which denies the metadata service its identity needs`;
            throw new pulumi.InputPropertiesError({ message: `AciPerUserFleet ${JSON.stringify(name)}: suspenderSubnetId ${reason}`, errors: [{ propertyPath: "suspenderSubnetId", reason }] });
        }
        assertDistinct("container group", new Map(args.users.map((u) => [u.id, userGroupName(name, u.id)])));
        super(componentType("AciPerUserFleet"), name, {}, withFormerType("copilot-fleet:aci:PerUserFleet", opts));
        const specFor = serverSpecsFromArgs(args);
        const fleetSpec = specFor(credentialKind(args.githubToken));
        const cliVersion = args.cliVersion ?? DEFAULT_CLI_VERSION;
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);
        const entries: Array<pulumi.Output<[string, UserOutput]>> = [];
        const idleSuspend = args.idleSuspendMinutes !== undefined;
        const suspendTargets: Array<pulumi.Output<[string, SuspenderUserEntry]>> = [];
        const groupIds: pulumi.Output<string>[] = [];
        // The sidecar shares the group's localhost with that user's server, and only that user's share and token.
        const cleanup = sessionCleanup === undefined ? undefined : buildCleanupSpec({ ...sessionCleanup, endpoint: `127.0.0.1:${fleetSpec.port}`, mode: "loop" });
        for (const user of args.users) {
            const suspended = user.suspended === true;
            const groupName = userGroupName(name, user.id);
            const share = args.shares[user.id];
            const token = generatedConnectionToken(groupName, { parent: this });
            const secrets = userSecretData(token, user, args.githubToken);
            const spec = specFor(userCredentialKind(user, args.githubToken));
            let endpoint: pulumi.Output<string> = pulumi.output("");
            if (!suspended) {
                const group = new containerinstance.ContainerGroup(
                    groupName,
                    containerGroupArgs(args, {
                        containerGroupName: groupName,
                        subnetId: args.serverSubnetId,
                        containers: [
                            renderServerContainer(spec, args.image, secrets, groupName),
                            ...(cleanup ? [renderCleanupContainer(cleanup, args.image, { [SECRET_KEYS.connectionToken]: token })] : []),
                        ],
                        volumes: renderServerVolumes(share),
                        ports: [spec.port],
                        // With idle suspend a wake reads this tag and refuses "true"; only active users have a group, so it says "false".
                        tags: idleSuspend ? { ...serverTags(name, cliVersion, user.id), [azureTagKey(SUSPENDED_MARKER)]: "false" } : serverTags(name, cliVersion, user.id),
                        pull: args.registry,
                    }),
                    { parent: this },
                );
                endpoint = groupEndpoint(group.ipAddress.apply((a) => a?.ip), spec.port);
                if (idleSuspend) {
                    groupIds.push(group.id);
                    suspendTargets.push(pulumi.all([endpoint, token]).apply(([e, t]) => [user.id, { endpoint: e, connectionToken: t, server: groupName }] as [string, SuspenderUserEntry]));
                }
            }
            entries.push(
                pulumi
                    .all([endpoint, token])
                    .apply(([e, connectionToken]) => [user.id, { endpoint: e, connectionToken, suspended, ...(idleSuspend && !suspended ? { server: groupName } : {}) }] as [string, UserOutput]),
            );
        }
        if (args.idleSuspendMinutes !== undefined && args.suspenderSubnetId !== undefined) {
            const suspender = new AciIdleSuspender(
                `${name}-idle-suspender`,
                {
                    resourceGroupName: args.resourceGroupName,
                    location: args.location,
                    fleet: name,
                    cliVersion,
                    idleMinutes: args.idleSuspendMinutes,
                    users: pulumi.secret(pulumi.all(suspendTargets).apply((e) => Object.fromEntries(e))),
                    groupIds,
                    subnetId: args.suspenderSubnetId,
                    image: args.suspenderImage,
                },
                { parent: this },
            );
            this.suspenderRoleDefinitionId = suspender.roleDefinitionId;
        }
        this.users = pulumi.secret(pulumi.all(entries).apply((e) => Object.fromEntries(e)));
        this.sessionStatePath = fleetSpec.sessionStatePath;
        this.registerOutputs({ users: this.users, sessionStatePath: this.sessionStatePath, suspenderRoleDefinitionId: this.suspenderRoleDefinitionId });
    }
}
