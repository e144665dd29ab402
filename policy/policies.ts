/**
 * Every policy of the pack, in one list: policy/index.ts builds the PolicyPack from it and the
 * tests run it over our own program's resources. Importing this module never starts a server.
 */
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { egressRestricted } from "./egress";
import { perUserIsolation } from "./isolation";
import { networkPolicyCoversServers, noPublicEndpoint } from "./network";
import { redisPassword } from "./redis";
import { connectionToken, imagePinned, noPlainSecrets, nonRoot, probes, resources, sessionStateMount, toolGuard } from "./server";
import { sharedSessionState, storageAccountSecure } from "./storage";

export const resourcePolicies: readonly ResourceValidationPolicy[] = [
    connectionToken,
    toolGuard,
    noPlainSecrets,
    imagePinned,
    probes,
    resources,
    nonRoot,
    sessionStateMount,
    noPublicEndpoint,
    redisPassword,
    storageAccountSecure,
];

export const stackPolicies: readonly StackValidationPolicy[] = [networkPolicyCoversServers, egressRestricted, sharedSessionState, perUserIsolation];

export const allPolicies: readonly (ResourceValidationPolicy | StackValidationPolicy)[] = [...resourcePolicies, ...stackPolicies];
