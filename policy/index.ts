/**
 * The copilot-fleet policy pack: `pulumi preview --policy-pack policy`. Only builds the pack;
 * the policies live in their own modules (see policies.ts). Constructing a PolicyPack starts the
 * analyzer's gRPC server, so nothing but the Pulumi CLI should import this file.
 */
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./policies";

new PolicyPack("copilot-fleet", {
    description: "Guard rails for headless GitHub Copilot CLI fleets on Kubernetes, Azure Container Instances and Docker.",
    enforcementLevel: "mandatory",
    policies: [...allPolicies],
});
