/**
 * A consumer's own Pulumi program: the packed library, installed from its tarball, composed into
 * the consumer's stack with its own names, its own Kubernetes provider and its own parent component.
 * Copied into a fresh folder by test/library/pack.test.ts; run by ./main.ts under mocks.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION } from "copilot-fleet";
import { PerUserFleet, SharedFleet } from "copilot-fleet/kubernetes";

export const provider = new k8s.Provider("acme-cluster", { kubeconfig: "{}", namespace: "acme" });
export const platform = new pulumi.ComponentResource("acme:platform:Copilot", "acme", {}, { providers: [provider] });

export const shared = new SharedFleet(
    "acme-shared",
    { namespace: "acme", image: "registry.example.com/copilot-cli:1.0.102", replicas: 2, githubToken: pulumi.secret("gho_acme"), cliVersion: DEFAULT_CLI_VERSION },
    { parent: platform },
);

export const perUser = new PerUserFleet(
    "acme-users",
    { namespace: "acme", image: "registry.example.com/copilot-cli:1.0.102", users: [{ id: "alice" }, { id: "bob", suspended: true }] },
    { parent: platform, provider },
);
