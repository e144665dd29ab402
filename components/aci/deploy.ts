import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { cleanupSettings, FleetConfig } from "../config";
import type { ImagePushTarget } from "../deploy";
import type { StackOutputs } from "../contract/outputs";
import { REDIS_PORT } from "../contract/redis";
import { configEndpoints, egressPlan } from "../contract/egress";
import { buildServerSpec } from "../contract/server";
import { AciPlacement, nameOf } from "./group";
import { assertDistinct, globalName, REGISTRY_NAME_MAX, stackResourceGroupName, STORAGE_ACCOUNT_NAME_MAX, userGroupName, userShareName } from "./naming";
import { AciNetwork } from "./network";
import { AciPerUserFleet } from "./perUserFleet";
import { AciRegistry } from "./registry";
import { AciSharedFleet } from "./sharedFleet";
import { AciStorage, shareQuotaGib } from "./storage";

/** The image for the fleet: pushed to `target` when the stack builds it; the `image` key otherwise. */
export type ImageSource = (target: ImagePushTarget, opts: pulumi.ComponentResourceOptions) => Promise<pulumi.Output<string>>;

function createdResourceGroup(name: string, groupName: string, location: string | undefined, opts?: pulumi.ComponentResourceOptions): pulumi.Output<string> {
    return nameOf(new resources.ResourceGroup(`${name}-rg`, { resourceGroupName: groupName, location }, opts), groupName);
}

/** Name of the shared fleet's session-state share. */
export const SHARED_SHARE_NAME = "session-state";

/**
 * Deploys the configured fleet to Azure Container Instances with the ambient azure-native provider:
 * resource group (unless an existing one is named), virtual network, storage account and shares,
 * registry and pull identity (when the image is built), then the shared or per-user fleet.
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
    const tags = { "app.kubernetes.io/part-of": "copilot-fleet", "app.kubernetes.io/instance": name };
    const placementBase = { resourceGroupName, location };

    const spec = buildServerSpec({
        credential: { kind: cfg.credential.kind },
        sessionIdleTimeoutSeconds: cfg.sessionIdleTimeoutSeconds,
        resources: cfg.resources,
        telemetry: cfg.telemetry,
    });
    const net = new AciNetwork(
        `${name}-net`,
        {
            ...placementBase,
            rules: {
                mode: cfg.mode,
                exposure: cfg.exposure,
                allowedCidrs: cfg.allowedCidrs,
                addressSpace: cfg.vnetAddressSpace,
                port: spec.port,
                redisPort: REDIS_PORT,
                egress: egressPlan(cfg.egressAllowedCidrs, configEndpoints(cfg)),
            },
            edge: cfg.mode === "shared",
        },
        opts,
    );

    let imageRef: pulumi.Output<string>;
    let placement: AciPlacement;
    if (cfg.image === undefined) {
        const registry = new AciRegistry(`${name}-registry`, { ...placementBase, registryName: scope.apply((s) => globalName("copilot", `registry:${s}`, REGISTRY_NAME_MAX)), tags }, opts);
        imageRef = await image({ repository: registry.repository, server: registry.loginServer }, { ...opts, dependsOn: [registry] });
        placement = {
            ...placementBase,
            serverSubnetId: net.serverSubnetId,
            edgeSubnetId: net.edgeSubnetId,
            pull: { server: registry.loginServer, identityId: registry.identityId },
            dependsOn: [registry.pullRole],
        };
    } else {
        imageRef = pulumi.output(cfg.image);
        placement = { ...placementBase, serverSubnetId: net.serverSubnetId, edgeSubnetId: net.edgeSubnetId };
    }

    const shareNames = new Map<string, string>(cfg.mode === "shared" ? [["fleet", SHARED_SHARE_NAME]] : cfg.users.map((u) => [u.id, userShareName(u.id)]));
    assertDistinct("file share", shareNames);
    if (cfg.mode === "per-user") assertDistinct("container group", new Map(cfg.users.map((u) => [u.id, userGroupName(name, u.id)])));
    const store = new AciStorage(
        `${name}-storage`,
        { ...placementBase, accountName: scope.apply((s) => globalName("copilot", `storage:${s}`, STORAGE_ACCOUNT_NAME_MAX)), shares: shareNames, quotaGib: shareQuotaGib(cfg.storageSize), tags, protect: cfg.protectSessionState },
        opts,
    );

    if (cfg.mode === "per-user") {
        const fleet = new AciPerUserFleet(
            name,
            { placement, image: imageRef, cliVersion: cfg.cliVersion, spec, credential: cfg.credential, users: cfg.users, shares: store.shares, sessionCleanup: cleanupSettings(cfg) },
            opts,
        );
        return { platform: "aci", mode: "per-user", users: fleet.users, sessionStatePath: fleet.sessionStatePath };
    }
    const share = store.shares.get("fleet");
    if (share === undefined) throw new Error("the shared fleet's share was not created");
    const fleet = new AciSharedFleet(
        name,
        { placement, image: imageRef, cliVersion: cfg.cliVersion, spec, credential: cfg.credential, share, replicas: cfg.replicas, connectionToken: cfg.connectionToken, redis: cfg.redis, sessionCleanup: cleanupSettings(cfg) },
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
