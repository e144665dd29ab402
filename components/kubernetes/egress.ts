/**
 * NetworkPolicy egress rules, rendered from the platform-neutral plan (components/contract/egress.ts). Pure
 * functions: the fleet components call them, tests validate what they return against the real schema.
 *
 * NetworkPolicies are allow-lists and add up: a pod selected by any policy with `Egress` in its
 * policyTypes may open exactly the connections some selecting policy's egress rule admits (replies
 * to admitted inbound connections are never blocked). Loopback inside the pod is not filtered, so a
 * sidecar dialling 127.0.0.1 needs no rule.
 */
import * as k8s from "@pulumi/kubernetes";
import { EgressPlan, LINK_LOCAL_RANGES, PRIVATE_RANGES } from "../contract/egress";
import { parseCidr } from "../contract/cidr";

type NetworkPolicyEgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type NetworkPolicyPort = k8s.types.input.networking.v1.NetworkPolicyPort;

/** Where cluster DNS runs on every major distribution (CoreDNS keeps the kube-dns label). */
export const KUBE_DNS = {
    namespace: "kube-system",
    podLabels: { "k8s-app": "kube-dns" },
} as const;
/** The label the API server puts on every namespace (Kubernetes ≥ 1.21), so a namespace is selectable by name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** DNS to the cluster's resolver only (UDP, and TCP for truncated answers). */
export function dnsEgressRule(): NetworkPolicyEgressRule {
    return {
        to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: KUBE_DNS.namespace } }, podSelector: { matchLabels: { ...KUBE_DNS.podLabels } } }],
        ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
        ],
    };
}

/** `0.0.0.0/0` and `::/0`, each without the private and link-local ranges of its family. */
export function publicIpBlocks(): NonNullable<NetworkPolicyEgressRule["to"]> {
    const ranges = [...PRIVATE_RANGES, ...LINK_LOCAL_RANGES];
    const of = (v: 4 | 6) => ranges.filter((r) => parseCidr(r)?.version === v);
    return [
        { ipBlock: { cidr: "0.0.0.0/0", except: of(4) } },
        { ipBlock: { cidr: "::/0", except: of(6) } },
    ];
}

const tcp = (port: number): NetworkPolicyPort => ({ protocol: "TCP", port });

/**
 * Egress of a CLI server pod: DNS, the public internet on the plan's ports (443, plus a configured
 * endpoint's own port), the stack's `egressAllowedCidrs` on any port, and each endpoint the config
 * names on its port only. Nothing else: not link-local (cloud metadata), not private ranges, not the
 * cluster (other pods, Redis, the API server).
 */
export function serverEgressRules(plan: EgressPlan): NetworkPolicyEgressRule[] {
    const rules: NetworkPolicyEgressRule[] = [dnsEgressRule(), { to: publicIpBlocks(), ports: plan.publicPorts.map(tcp) }];
    if (plan.allowedCidrs.length > 0) rules.push({ to: plan.allowedCidrs.map((cidr) => ({ ipBlock: { cidr } })) });
    for (const e of plan.endpoints) {
        if (e.kind === "private-address") {
            rules.push({ to: [{ ipBlock: { cidr: e.cidr } }], ports: [tcp(e.port)] });
        } else if (e.kind === "cluster-service") {
            // No namespace in the name: the Service is in the fleet's own namespace (a peer with only a
            // podSelector selects pods of the policy's namespace).
            const peer = e.namespace === undefined ? { podSelector: {} } : { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: e.namespace } } };
            rules.push({ to: [peer], ports: [tcp(e.port)] });
        }
    }
    return rules;
}

/** Egress of a pod that only dials the fleet's servers (the shared fleet's cleanup CronJob): DNS and the servers' port. */
export function serverClientEgressRules(serverSelector: Readonly<Record<string, string>>, port: number): NetworkPolicyEgressRule[] {
    return [dnsEgressRule(), { to: [{ podSelector: { matchLabels: { ...serverSelector } } }], ports: [tcp(port)] }];
}
