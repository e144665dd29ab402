/** What every container group of a fleet has in common: placement, network, pull identity, policy. */
import type { ContainerGroupArgs } from "@pulumi/azure-native/containerinstance";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerArgs, VolumeArgs } from "./render";

/**
 * The name we gave `resource`, available once it exists. Children use this rather than the
 * provider's `name` output, so a dependent waits for the resource and still sees a name that
 * never depends on what ARM echoes back.
 */
export function nameOf(resource: pulumi.CustomResource, name: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([resource.id, name]).apply(([, n]) => n);
}

/**
 * How the fleet's own image is pulled: by the user-assigned identity that holds AcrPull.
 *
 * ACI accepts `imageRegistryCredentials[].identity` only for an identity that is also in the group's
 * `identity` list (ARM answers `InvalidImageRegistryIdentity` otherwise), and every identity in that
 * list hands out tokens to the group's containers at 169.254.169.254 (Azure docs: "How to use managed
 * identities with Azure Container Instances", "Deploy to ACI from ACR using a managed identity"). So
 * the pull identity cannot be kept from the containers by the group's own settings. What limits it:
 * it holds AcrPull on this stack's registry only (an image built from public release files), and the
 * subnets deny the `AzurePlatformIMDS` service tag outbound (components/aci/network.ts), which docs/security.md
 * "Egress" says how to verify after a deploy. With `image` set no identity is attached at all.
 */
export interface PullIdentity {
    /** Registry login server, e.g. `<name>.azurecr.io`. */
    readonly server: pulumi.Input<string>;
    /** Resource id of the user-assigned identity. */
    readonly identityId: pulumi.Input<string>;
}

/** Where a fleet's container groups go: plain values a consumer passes to AciSharedFleet and AciPerUserFleet. */
export interface AciPlacementArgs {
    /** Resource group of every container group. */
    readonly resourceGroupName: pulumi.Input<string>;
    /** Azure region. Default: the azure-native provider's `location`. */
    readonly location?: pulumi.Input<string>;
    /** Resource id of the servers' ACI-delegated subnet (AciNetwork's `serverSubnetId`). */
    readonly serverSubnetId: pulumi.Input<string>;
    /**
     * How the server groups pull a private image: AciRegistry's `pullIdentity` (its identity id
     * resolves once the AcrPull role is assigned, so no group pulls before it may). Default none: a
     * public image, and no identity on any group.
     */
    readonly registry?: PullIdentity;
}

export interface GroupOptions {
    readonly containerGroupName: string;
    readonly subnetId: pulumi.Input<string>;
    readonly containers: ContainerArgs[];
    readonly volumes: VolumeArgs[];
    readonly ports: readonly number[];
    readonly tags: Record<string, string>;
    /** Pull with the fleet identity (server groups only; HAProxy and Redis are public images). */
    readonly pull?: PullIdentity;
}

/**
 * A Linux, Standard-SKU group on a private IP in a delegated subnet, restarted whenever a container
 * exits (`Always`: a server that crashes or fails liveness comes back with its group's share).
 */
export function containerGroupArgs(placement: Pick<AciPlacementArgs, "resourceGroupName" | "location">, o: GroupOptions): ContainerGroupArgs {
    return {
        resourceGroupName: placement.resourceGroupName,
        location: placement.location,
        containerGroupName: o.containerGroupName,
        osType: "Linux",
        sku: "Standard",
        restartPolicy: "Always",
        containers: o.containers,
        volumes: o.volumes,
        ipAddress: { type: "Private", ports: o.ports.map((port) => ({ port, protocol: "TCP" })) },
        subnetIds: [{ id: o.subnetId }],
        ...(o.pull
            ? {
                  identity: { type: "UserAssigned", userAssignedIdentities: [o.pull.identityId] },
                  imageRegistryCredentials: [{ server: o.pull.server, identity: o.pull.identityId }],
              }
            : {}),
        tags: o.tags,
    };
}
