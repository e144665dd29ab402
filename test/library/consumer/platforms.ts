/**
 * A consumer's own Pulumi program for the other two platforms: the packed library's Docker and ACI
 * fleets composed with plain arguments, the consumer's own providers, names and parent. Copied into
 * a fresh folder by test/library/pack.test.ts (after it installs @pulumi/docker and
 * @pulumi/azure-native there); run by ./main.ts under mocks.
 */
import * as azure from "@pulumi/azure-native";
import * as dockerProvider from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { AciNetwork, AciPerUserFleet, AciSharedFleet, AciStorage, SHARED_SHARE_NAME, userShareName } from "copilot-fleet/aci";
import { DockerPerUserFleet, DockerSharedFleet } from "copilot-fleet/docker";

const image = "registry.example.com/copilot-cli:1.0.102";
export const dockerHost = new dockerProvider.Provider("acme-docker", { host: "unix:///var/run/docker.sock" });
export const azureSub = new azure.Provider("acme-azure", { location: "westeurope" });
export const platform = new pulumi.ComponentResource("acme:platform:Copilot", "acme", {}, { providers: [dockerHost, azureSub] });

// Docker: a laptop fleet and a per-user one, with defaults for everything not named.
export const devShared = new DockerSharedFleet("acme-dev", { image, replicas: 2, githubToken: pulumi.secret("gho_acme"), sessionCleanup: { ttlHours: 24 } }, { parent: platform });
export const devUsers = new DockerPerUserFleet("acme-dev-users", { image, users: [{ id: "alice" }, { id: "bob", suspended: true }] }, { parent: platform });

// ACI: the consumer's own resource group, this package's network and storage, then the fleets.
const resourceGroupName = "acme-rg";
const sharedNet = new AciNetwork("acme-net", { resourceGroupName, exposure: "internal", allowedCidrs: ["10.1.0.0/16"] }, { parent: platform });
const edgeSubnetId = sharedNet.edgeSubnetId;
if (edgeSubnetId === undefined) throw new Error('an AciNetwork in mode "shared" has an edge subnet');
const sharedStore = new AciStorage("acme-store", { resourceGroupName, accountName: "acmecopilot01", shares: { fleet: SHARED_SHARE_NAME }, storageSize: "20Gi" }, { parent: platform });
export const cloudShared = new AciSharedFleet(
    "acme-cloud",
    {
        resourceGroupName,
        serverSubnetId: sharedNet.serverSubnetId,
        edgeSubnetId,
        share: sharedStore.shares.fleet,
        image,
        replicas: 2,
        githubToken: pulumi.secret("gho_acme"),
    },
    { parent: platform },
);

const users = [{ id: "carol" }, { id: "dave" }];
const userNet = new AciNetwork("acme-users-net", { resourceGroupName, mode: "per-user", exposure: "internal", allowedCidrs: ["10.1.0.0/16"], vnetAddressSpace: "10.43.0.0/16" }, { parent: platform });
const userStore = new AciStorage("acme-users-store", { resourceGroupName, accountName: "acmecopilot02", shares: Object.fromEntries(users.map((u) => [u.id, userShareName(u.id)])) }, { parent: platform });
export const cloudUsers = new AciPerUserFleet("acme-cloud-users", { resourceGroupName, serverSubnetId: userNet.serverSubnetId, shares: userStore.shares, image, users }, { parent: platform });
