import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import type { FleetConfig } from "../config";
import { egressArgs, ImagePushTarget, serverSettingsArgs, sessionCleanupArgs, userArgs } from "../deploy";
import type { StackOutputs } from "../contract/outputs";
import { azureTags, LABEL_KEYS } from "../contract/labels";
import { AciPlacementArgs, nameOf } from "./group";
import { globalName, REGISTRY_NAME_MAX, SHARED_SHARE_NAME, stackResourceGroupName, STORAGE_ACCOUNT_NAME_MAX, userShareName } from "./naming";
import { AciNetwork } from "./network";
import { AciPerUserFleet } from "./perUserFleet";
import { AciRegistry } from "./registry";
import { AciSharedFleet } from "./sharedFleet";
import { AciStorage } from "./storage";

/** The image for the fleet: pushed to `target` when the stack builds it; the `image` key otherwise. */
export type ImageSource = (target: ImagePushTarget, opts: pulumi.ComponentResourceOptions) => Promise<pulumi.Output<string>>;

function createdResourceGroup(name: string, groupName: string, location: string | undefined, opts?: pulumi.ComponentResourceOptions): pulumi.Output<string> {
    return nameOf(new resources.ResourceGroup(`${name}-rg`, { resourceGroupName: groupName, location }, opts), groupName);
}

/**
 * Deploys the configured fleet to Azure Container Instances with the ambient azure-native provider:
 * resource group (unless an existing one is named), virtual network, storage account and shares,
 * registry and pull identity (when the image is built), then the shared or per-user fleet, each
 * given the plain arguments a library consumer would pass.
 */
export async function deployAci(name: string, cfg: FleetConfig, image: ImageSource, opts?: pulumi.ComponentResourceOptions): Promise<StackOutputs> {
    const location = cfg.location;
    const resourceGroupName: pulumi.Output<string> =
        cfg.resourceGroupName !== undefined
            ? pulumi.output(cfg.resourceGroupName)
            : createdResourceGroup(name, stackResourceGroupName(pulumi.getProject(), pulumi.getStack()), location, opts);
    // Globally unique names hash the subscription and resource group: stable for this stack, distinct across tenants.
    const client = authorization.getClientConfigOutput();
    const scope = pulumi.all([client.subscriptionId, resourceGroupName]).apply(([sub, rg]) => `/subscriptions/${sub}/resourceGroups/${rg}/${name}`);
    const tags = azureTags({ [LABEL_KEYS.partOf]: "copilot-fleet", [LABEL_KEYS.instance]: name });
    const placementBase = { resourceGroupName, location };

    const settings = { ...serverSettingsArgs(cfg), cliVersion: cfg.cliVersion, sessionCleanup: sessionCleanupArgs(cfg) };
    const net = new AciNetwork(
        `${name}-net`,
        {
            ...placementBase,
            ...egressArgs(cfg),
            telemetry: settings.telemetry,
            mode: cfg.mode,
            exposure: cfg.exposure,
            allowedCidrs: [...cfg.allowedCidrs],
            vnetAddressSpace: cfg.vnetAddressSpace,
            idleSuspend: cfg.idleSuspendMinutes !== undefined,
        },
        opts,
    );

    let imageRef: pulumi.Output<string>;
    let placement: AciPlacementArgs;
    if (cfg.image === undefined) {
        const registry = new AciRegistry(`${name}-registry`, { ...placementBase, registryName: scope.apply((s) => globalName("copilot", `registry:${s}`, REGISTRY_NAME_MAX)), tags }, opts);
        imageRef = await image({ repository: registry.repository, server: registry.loginServer }, { ...opts, dependsOn: [registry] });
        placement = { ...placementBase, serverSubnetId: net.serverSubnetId, registry: registry.pullIdentity };
    } else {
        imageRef = pulumi.output(cfg.image);
        placement = { ...placementBase, serverSubnetId: net.serverSubnetId };
    }

    const shareNames: Record<string, string> = cfg.mode === "shared" ? { fleet: SHARED_SHARE_NAME } : Object.fromEntries(cfg.users.map((u) => [u.id, userShareName(u.id)]));
    const store = new AciStorage(
        `${name}-storage`,
        {
            ...placementBase,
            accountName: scope.apply((s) => globalName("copilot", `storage:${s}`, STORAGE_ACCOUNT_NAME_MAX)),
            shares: shareNames,
            storageSize: cfg.storageSize,
            tags,
            protectSessionState: cfg.protectSessionState,
        },
        opts,
    );

    if (cfg.mode === "per-user") {
        const fleet = new AciPerUserFleet(
            name,
            { ...settings, ...placement, image: imageRef, users: userArgs(cfg), shares: store.shares, idleSuspendMinutes: cfg.idleSuspendMinutes, suspenderSubnetId: net.controlSubnetId },
            opts,
        );
        const idleSuspend =
            cfg.idleSuspendMinutes !== undefined && fleet.suspenderRoleDefinitionId !== undefined
                ? { idleSuspend: pulumi.output({ minutes: cfg.idleSuspendMinutes, roleDefinitionId: fleet.suspenderRoleDefinitionId, subscriptionId: client.subscriptionId, resourceGroupName }) }
                : {};
        return { platform: "aci", mode: "per-user", users: fleet.users, sessionStatePath: fleet.sessionStatePath, ...idleSuspend };
    }
    if (net.edgeSubnetId === undefined) throw new Error("the shared fleet's edge subnet was not created");
    const fleet = new AciSharedFleet(
        name,
        {
            ...settings,
            ...placement,
            edgeSubnetId: net.edgeSubnetId,
            image: imageRef,
            share: store.shares.fleet,
            replicas: cfg.replicas,
            connectionToken: cfg.connectionToken,
            redis: cfg.redis,
        },
        opts,
    );
    return {
        platform: "aci",
        mode: "shared",
        endpoint: fleet.endpoint,
        connectionToken: fleet.connectionToken,
        replicas: fleet.replicas,
        redisUrl: fleet.redisUrl,
        sessionStatePath: fleet.sessionStatePath,
    };
}
