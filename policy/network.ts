/**
 * Network exposure rules: nothing internet-facing unless the stack opts in (and then, where the
 * platform can, only from listed source ranges), and a NetworkPolicy in front of every server pod.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { AciContainerGroupProps, aciValidator, isPublicIpType, PUBLIC_IP_TYPE } from "./aci";
import { isOpenRange, PublicEndpointConfig } from "./common";
import { dockerValidator } from "./docker";
import { containerViews, namespaceOf, selectorMatches, stackWorkloads, TYPES } from "./kubernetes";

type NetworkPolicySpec = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicySpec>;
type ObjectMeta = pulumi.Unwrap<k8s.types.input.meta.v1.ObjectMeta>;

/** Annotations that make a LoadBalancer private on AKS, EKS/AWS LB controller, GKE. */
const INTERNAL_LB: readonly { key: string; values: readonly string[] }[] = [
    { key: "service.beta.kubernetes.io/azure-load-balancer-internal", values: ["true"] },
    { key: "service.beta.kubernetes.io/aws-load-balancer-scheme", values: ["internal"] },
    { key: "service.beta.kubernetes.io/aws-load-balancer-internal", values: ["true", "0.0.0.0/0"] },
    { key: "networking.gke.io/load-balancer-type", values: ["Internal"] },
    { key: "cloud.google.com/load-balancer-type", values: ["Internal", "internal"] },
];

export function isInternalLoadBalancer(annotations: Readonly<Record<string, string>>): boolean {
    return INTERNAL_LB.some((a) => a.values.includes(annotations[a.key] ?? ""));
}

const OPT_IN =
    'If this stack is meant to be internet-facing (stack config exposure=public), opt in with the policy config { "copilot-network-no-public-endpoint": { "allowPublicEndpoints": true } }.';

const allowed = (cfg: PublicEndpointConfig): boolean => cfg.allowPublicEndpoints === true;

export const noPublicEndpoint: ResourceValidationPolicy = {
    name: "copilot-network-no-public-endpoint",
    description:
        "No public load balancer, public IP, NodePort, externalIPs or docker port on all interfaces unless the stack opts in with allowPublicEndpoints; " +
        "a public Kubernetes load balancer must then list loadBalancerSourceRanges (not 0.0.0.0/0). ACI public IPs and docker ports cannot be " +
        "filtered by source address at all, so opting in there leaves the connection token as the only guard.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: {
        properties: {
            allowPublicEndpoints: {
                type: "boolean",
                default: false,
                description: "Allow internet-facing endpoints in this stack (Kubernetes public load balancers still need source ranges).",
            },
        },
    },
    validateResource: [
        validateResourceOfType(k8s.core.v1.Service, (svc, args, report) => {
            const cfg = args.getConfig<PublicEndpointConfig>();
            const spec = svc.spec ?? {};
            const annotations = (svc.metadata?.annotations ?? {}) as Record<string, string>;
            const name = svc.metadata?.name ?? args.name;
            if ((spec.externalIPs ?? []).length > 0 && !allowed(cfg)) {
                report(`Service "${name}" sets externalIPs: remove them (use ClusterIP, or an internal load balancer), because they expose the port on those addresses to anyone who can route there. ${OPT_IN}`);
            }
            if (spec.type === "NodePort" && !allowed(cfg)) {
                report(`Service "${name}" is a NodePort: use ClusterIP or an internal LoadBalancer, because a node port is open on every node's address and cannot be limited to source ranges. ${OPT_IN}`);
            }
            if (spec.type !== "LoadBalancer" || isInternalLoadBalancer(annotations)) return;
            if (!allowed(cfg)) {
                report(
                    `Service "${name}" is a public LoadBalancer: make it internal (stack config exposure=internal adds the cloud's internal-LB annotation) or ClusterIP, ` +
                        `because the CLI server's port would be reachable from the internet. ${OPT_IN}`,
                );
                return;
            }
            const ranges = [...(spec.loadBalancerSourceRanges ?? []), ...(annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] ?? "").split(",").filter((s) => s.trim() !== "")];
            if (ranges.length === 0 || ranges.some(isOpenRange)) {
                report(
                    `Service "${name}" is a public LoadBalancer ${ranges.length === 0 ? "without loadBalancerSourceRanges" : "open to 0.0.0.0/0"}: list the callers' ` +
                        "CIDRs in spec.loadBalancerSourceRanges (stack config allowedCidrs), because public endpoints are allowed here only from known source ranges.",
                );
            }
        }),
        dockerValidator((view, props, args, report) => {
            if (allowed(args.getConfig<PublicEndpointConfig>())) return;
            if (props.networkMode === "host") {
                report(`${view.where} uses networkMode "host": use a bridge network and publish ports on 127.0.0.1, because host networking exposes every listening port on every interface. ${OPT_IN}`);
            }
            if (props.publishAllPorts === true) {
                report(`${view.where} sets publishAllPorts: publish explicit ports with ip "127.0.0.1", because publishAllPorts binds every exposed port on all interfaces. ${OPT_IN}`);
            }
            for (const p of props.ports ?? []) {
                const ip = (p.ip ?? "").trim();
                if (ip === "" || ip === "0.0.0.0" || ip === "::" || ip === "[::]") {
                    report(
                        `${view.where} publishes port ${p.internal}${p.external ? ` as ${p.external}` : ""} on all interfaces: set ports[].ip to "127.0.0.1", because Docker ` +
                            `publishes on every host address by default and bypasses host firewalls. ${OPT_IN}`,
                    );
                }
            }
        }),
        aciValidator((_views, props: AciContainerGroupProps, args, report) => {
            const type = (props.ipAddress?.type ?? "").toLowerCase();
            if (type !== "public" || allowed(args.getConfig<PublicEndpointConfig>())) return;
            report(
                `Container group "${props.containerGroupName ?? args.name}" has a public IP address: use ipAddress.type "Private" with subnetIds (VNet injection), because ` +
                    `ACI cannot restrict a public IP to source ranges, so the server would be reachable from the whole internet. ${OPT_IN}`,
            );
        }),
        (args, report) => {
            if (!isPublicIpType(args.type)) {
                args.notApplicable(`Policy only applies to resources of type '${PUBLIC_IP_TYPE}' here`);
                return;
            }
            if (allowed(args.getConfig<PublicEndpointConfig>())) return;
            report(`Public IP address "${args.name}": remove it or put the fleet behind a private endpoint, because a public IP makes the fleet internet-facing. ${OPT_IN}`);
        },
    ],
};

interface NetworkPolicyProps {
    metadata?: ObjectMeta;
    spec?: NetworkPolicySpec;
}

/** A NetworkPolicy restricts ingress when it covers Ingress and none of its rules admits everyone. */
function restrictsIngress(spec: NetworkPolicySpec | undefined): boolean {
    if (spec === undefined) return false;
    const types = spec.policyTypes ?? ["Ingress"];
    if (!types.includes("Ingress")) return false;
    // A rule without `from` admits every source; with `from: []` likewise.
    return (spec.ingress ?? []).every((rule) => (rule.from ?? []).length > 0);
}

export const networkPolicyCoversServers: StackValidationPolicy = {
    name: "copilot-network-policy-covers-servers",
    description:
        "Every Kubernetes workload running Copilot CLI servers is selected by a NetworkPolicy in its namespace that restricts ingress, so only the fleet's clients (and listed source ranges) reach port 4321.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const servers = stackWorkloads(args.resources).filter(({ workload }) => containerViews(workload).some((v) => v.isServer()));
        if (servers.length === 0) args.notApplicable("no Kubernetes Copilot CLI server workloads");
        const policies = args.resources
            .filter((r) => r.type === TYPES.networkPolicy)
            .map((r) => {
                const p = r.props as NetworkPolicyProps;
                return { namespace: namespaceOf(p.metadata, r.provider), spec: p.spec };
            });
        for (const { resource, workload } of servers) {
            const covering = policies.filter((p) => p.namespace === workload.namespace && selectorMatches(p.spec?.podSelector, workload.podLabels));
            if (covering.length === 0) {
                report(
                    `${workload.kind} "${workload.name}" (namespace ${workload.namespace}) runs Copilot CLI servers but no NetworkPolicy selects its pods: add one whose ` +
                        "podSelector matches the server labels with policyTypes [Ingress] and rules listing the allowed clients, because otherwise every pod in the cluster can reach the servers.",
                    resource.urn,
                );
            } else if (!covering.some((p) => restrictsIngress(p.spec))) {
                report(
                    `${workload.kind} "${workload.name}" is selected only by NetworkPolicies that admit all ingress: give each ingress rule a non-empty "from" (client pod ` +
                        "labels or ipBlocks), because a rule without sources admits every pod.",
                    resource.urn,
                );
            }
        }
    },
};
