/**
 * The idle suspender on Azure Container Instances: one small container group per per-user fleet that
 * stops idle users' container groups through Azure Resource Manager (a stopped group releases its
 * compute and is not billed). components/contract/suspend.ts says what runs and why in a Node.js image.
 *
 * Least privilege:
 * - its own user-assigned identity, holding one custom role ("read, start, stop container groups")
 *   assigned on each active user's container group and nowhere else: not on the resource group, not
 *   on the suspender's own group, not on the registry or the storage account;
 * - the same role is what a backend's identity is given for `ensureRunning` (docs/operations.md);
 * - its group sits in the fleet's control subnet (components/aci/network.ts): nothing may connect to
 *   it; it reaches the users' servers on their port, ARM and the image registry on 443, and the
 *   instance metadata service (its identity's tokens), which the server subnet denies;
 * - the users file (endpoints and connection tokens) and the code are secret volumes, never
 *   environment or command line.
 * A Standard-SKU group takes no security context, so the process runs as the image's user (root in
 * the official Node.js image), as HAProxy and Redis do on ACI; the container holds nothing but the
 * suspender's own code, its users file and its identity.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerinstance from "@pulumi/azure-native/containerinstance";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import {
    DEFAULT_SUSPENDER_IMAGE,
    SUSPENDER_CODE_DIR,
    SUSPENDER_RESOURCES,
    SUSPENDER_USERS_DIR,
    suspenderCode,
    suspenderEnv,
    suspenderIntervalSeconds,
    suspenderProbeCommand,
    suspenderUsersJson,
    SuspenderUserEntry,
} from "../contract/suspend";
import { componentType } from "../contract/types";
import { stableHash } from "./naming";
import { cpuCores, fleetTags, memoryGb, secretFile } from "./render";

/** What the suspender (and a waking backend) may do to a user's container group: read it, start it, stop it. */
export const SUSPENDER_ROLE_ACTIONS = [
    "Microsoft.ContainerInstance/containerGroups/read",
    "Microsoft.ContainerInstance/containerGroups/start/action",
    "Microsoft.ContainerInstance/containerGroups/stop/action",
] as const;

/**
 * The custom role's name. Role names are unique in the whole Microsoft Entra tenant, so it carries a
 * hash of the resource group's id and the fleet's name: two stacks never claim one name.
 */
export function suspenderRoleName(resourceGroupId: string, fleet: string): string {
    return `copilot-fleet idle suspender ${fleet} ${stableHash(`${resourceGroupId.toLowerCase()}/${fleet}`, 10)}`;
}

export interface AciIdleSuspenderArgs {
    readonly resourceGroupName: pulumi.Input<string>;
    readonly location?: pulumi.Input<string>;
    /** The fleet's name (tags, the role's name). */
    readonly fleet: string;
    readonly cliVersion: string;
    readonly idleMinutes: number;
    /** user id → where the suspender dials that user's server (its private address), its token, and its container group name. */
    readonly users: pulumi.Input<Record<string, pulumi.Input<SuspenderUserEntry>>>;
    /** Resource ids of the user container groups the role is assigned on (the active users'). */
    readonly groupIds: readonly pulumi.Input<string>[];
    /** The control subnet (AciNetwork's `controlSubnetId`). */
    readonly subnetId: pulumi.Input<string>;
    /** Default DEFAULT_SUSPENDER_IMAGE (public: the group has no registry credential). */
    readonly image?: string;
}

const VOLUMES = { code: "suspender-code", users: "suspender-users" } as const;
/** The discard port: the one ipAddress needs, on which nothing listens. */
export const SUSPENDER_UNUSED_PORT = 9;

/** Identity, custom role, one assignment per user group, and the suspender's container group. */
export class AciIdleSuspender extends pulumi.ComponentResource {
    /** The custom role's resource id: assign it to a backend's identity on each user's group for `ensureRunning`. */
    public readonly roleDefinitionId: pulumi.Output<string>;
    /** The suspender identity's principal (object) id. */
    public readonly principalId: pulumi.Output<string>;
    public readonly groupName: string;

    constructor(name: string, args: AciIdleSuspenderArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("AciIdleSuspender"), name, {}, opts);
        const child = { parent: this };
        const client = authorization.getClientConfigOutput({ parent: this });
        const resourceGroupId = pulumi.interpolate`/subscriptions/${client.subscriptionId}/resourceGroups/${args.resourceGroupName}`;
        const tags = fleetTags(args.fleet, args.cliVersion, "idle-suspender", "copilot-idle-suspender");

        const identity = new managedidentity.UserAssignedIdentity(
            `${name}-identity`,
            { resourceGroupName: args.resourceGroupName, location: args.location, resourceName: `${name}-identity`, tags },
            child,
        );
        const role = new authorization.RoleDefinition(
            `${name}-role`,
            {
                scope: resourceGroupId,
                assignableScopes: [resourceGroupId],
                roleName: resourceGroupId.apply((id) => suspenderRoleName(id, args.fleet)),
                description: `Read, start and stop the per-user container groups of copilot-fleet ${args.fleet} (idle suspend and wake).`,
                roleType: "CustomRole",
                permissions: [{ actions: [...SUSPENDER_ROLE_ACTIONS], notActions: [], dataActions: [], notDataActions: [] }],
            },
            child,
        );
        const assignments = args.groupIds.map(
            (groupId, i) =>
                new authorization.RoleAssignment(
                    `${name}-assign-${i}`,
                    {
                        scope: groupId,
                        principalId: identity.principalId,
                        // Without it ARM may look the new identity up before it has replicated and fail the assignment.
                        principalType: "ServicePrincipal",
                        roleDefinitionId: role.id,
                    },
                    child,
                ),
        );

        const code = suspenderCode();
        const usersJson = pulumi.output(args.users).apply((u) => suspenderUsersJson(u as Record<string, SuspenderUserEntry>));
        const env = {
            ...suspenderEnv("aci", args.idleMinutes),
            SUSPENDER_RESOURCE_GROUP: args.resourceGroupName,
            SUSPENDER_SUBSCRIPTION_ID: client.subscriptionId,
            SUSPENDER_AZURE_CLIENT_ID: identity.clientId,
        };
        const probe = { exec: { command: suspenderProbeCommand(args.idleMinutes) }, initialDelaySeconds: 30, periodSeconds: Math.max(10, suspenderIntervalSeconds(args.idleMinutes)), timeoutSeconds: 5, failureThreshold: 3 };
        const cpu = cpuCores(SUSPENDER_RESOURCES.cpuLimit);
        const memoryInGB = memoryGb(SUSPENDER_RESOURCES.memoryLimit);
        this.groupName = `${args.fleet}-idle-suspender`;
        new containerinstance.ContainerGroup(
            name,
            {
                resourceGroupName: args.resourceGroupName,
                location: args.location,
                containerGroupName: this.groupName,
                osType: "Linux",
                sku: "Standard",
                restartPolicy: "Always",
                // Its tokens come from the metadata service for this identity; the role assignments are made first.
                identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
                // A group in a subnet gets its private address through ipAddress, which needs a port: nothing
                // listens on it (the suspender serves nothing) and the control subnet denies every inbound connection.
                ipAddress: { type: "Private", ports: [{ port: SUSPENDER_UNUSED_PORT, protocol: "TCP" }] },
                subnetIds: [{ id: args.subnetId }],
                containers: [
                    {
                        name: "suspender",
                        image: args.image ?? DEFAULT_SUSPENDER_IMAGE,
                        command: ["node", `${SUSPENDER_CODE_DIR}/suspender-main.js`],
                        environmentVariables: Object.entries(env).map(([n, value]) => ({ name: n, value })),
                        resources: { requests: { cpu, memoryInGB }, limits: { cpu, memoryInGB } },
                        // The last round finished recently: a wedged loop is restarted.
                        readinessProbe: probe,
                        livenessProbe: probe,
                        volumeMounts: [
                            { name: VOLUMES.code, mountPath: SUSPENDER_CODE_DIR, readOnly: true },
                            { name: VOLUMES.users, mountPath: SUSPENDER_USERS_DIR, readOnly: true },
                        ],
                    },
                ],
                volumes: [
                    // Secret volumes are ACI's only way to write files into a group. The code is not a secret; the users
                    // file is, which makes the whole `volumes` property a Pulumi secret (Pulumi marks a property by its parts).
                    { name: VOLUMES.code, secret: Object.fromEntries(Object.entries(code).map(([f, c]) => [f, Buffer.from(c, "utf8").toString("base64")])) },
                    { name: VOLUMES.users, secret: { "users.json": secretFile(usersJson) } },
                ],
                tags,
            },
            { parent: this, dependsOn: assignments },
        );
        this.roleDefinitionId = role.id;
        this.principalId = identity.principalId;
        this.registerOutputs({ roleDefinitionId: this.roleDefinitionId, principalId: this.principalId, groupName: this.groupName });
    }
}
