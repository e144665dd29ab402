/**
 * The image registry and the identity that pulls from it: an Azure Container Registry with the admin
 * user off, a user-assigned managed identity, and an `AcrPull` role assignment for that identity on
 * the registry. Container groups name the identity in `imageRegistryCredentials`, so no registry
 * password exists anywhere in the stack.
 *
 * Pushing: `CopilotImage` pushes with the Docker credential helpers of the machine running
 * `pulumi up` (`az acr login --name <registry>`), not with credentials read from the registry:
 * `listRegistryCredentials` only works with the admin user on, and ACR's repository tokens need a
 * `generateCredentials` call that azure-native does not expose. docs/aci.md describes the first deploy.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import type { PullIdentity } from "./group";
import { componentType, withFormerType } from "../contract/types";

/** Built-in role "AcrPull" (the same id in every Azure cloud and tenant). */
export const ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
export const IMAGE_REPOSITORY_NAME = "copilot-cli";

/** `/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<role>`, from any resource id in that subscription. */
export function roleDefinitionId(resourceId: string, roleId: string): string {
    const m = /^\/subscriptions\/([^/]+)\//i.exec(resourceId);
    if (!m) throw new Error(`not an Azure resource id: ${JSON.stringify(resourceId)}`);
    return `/subscriptions/${m[1]}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}

export interface AciRegistryArgs {
    readonly resourceGroupName: pulumi.Input<string>;
    readonly location?: pulumi.Input<string>;
    /** Globally unique registry name (alphanumeric, 5–50). */
    readonly registryName: pulumi.Input<string>;
    readonly tags?: Record<string, string>;
}

export class AciRegistry extends pulumi.ComponentResource {
    public readonly loginServer: pulumi.Output<string>;
    /** `<loginServer>/copilot-cli`, where CopilotImage pushes. */
    public readonly repository: pulumi.Output<string>;
    /** Resource id of the pull identity (for `identity.userAssignedIdentities` and `imageRegistryCredentials`). */
    public readonly identityId: pulumi.Output<string>;
    /** The AcrPull role assignment of the identity on the registry. */
    public readonly pullRole: authorization.RoleAssignment;
    /**
     * What a fleet's `registry` argument takes: the login server and the identity id, which resolves
     * only once `pullRole` exists, so a group that names it waits for the role and its first pull
     * finds the role in place.
     */
    public readonly pullIdentity: PullIdentity;

    constructor(name: string, args: AciRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("AciRegistry"), name, {}, withFormerType("copilot-fleet:aci:Registry", opts));
        const common = { resourceGroupName: args.resourceGroupName, location: args.location, tags: args.tags };
        const registry = new containerregistry.Registry(
            `${name}-acr`,
            { ...common, registryName: args.registryName, sku: { name: "Basic" }, adminUserEnabled: false },
            { parent: this },
        );
        const identity = new managedidentity.UserAssignedIdentity(`${name}-pull`, { ...common, resourceName: `${name}-pull` }, { parent: this });
        this.pullRole = new authorization.RoleAssignment(
            `${name}-acrpull`,
            {
                scope: registry.id,
                principalId: identity.principalId,
                // Without it ARM may look the new identity up before it has replicated and fail the assignment.
                principalType: "ServicePrincipal",
                roleDefinitionId: registry.id.apply((id) => roleDefinitionId(id, ACR_PULL_ROLE_ID)),
            },
            { parent: this },
        );
        this.loginServer = registry.loginServer;
        this.repository = pulumi.interpolate`${registry.loginServer}/${IMAGE_REPOSITORY_NAME}`;
        this.identityId = identity.id;
        this.pullIdentity = { server: this.loginServer, identityId: pulumi.all([identity.id, this.pullRole.id]).apply(([id]) => id) };
        this.registerOutputs({ loginServer: this.loginServer, repository: this.repository, identityId: this.identityId });
    }
}
