/**
 * Egress rules: a Copilot CLI server's network reach is the reach of every tool a prompt-injected
 * agent runs, so a server must not open connections to cloud metadata (its identity's tokens), private
 * ranges or the cluster beyond what the stack's reviewer allowed.
 *
 * Kubernetes: every server workload is selected by a NetworkPolicy with `Egress`, and no egress rule
 * of the policies selecting it admits every destination, link-local or private addresses outside
 * the allowance, or every pod of every namespace. ACI: the NSG of each server group's subnet denies
 * `AzurePlatformIMDS` (when the group holds an identity), the `VirtualNetwork` tag and the private and
 * link-local ranges before anything allows them, except the allowance.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { LINK_LOCAL_RANGES, METADATA_ADDRESSES, PRIVATE_RANGES } from "../components/contract/egress";
import { cidrContains, cidrOverlaps, Cidr, parseAddress, parseCidr } from "../components/contract/cidr";
import { AciContainerGroupProps, stackContainerGroups } from "./aci";
import { asRecord } from "./common";
import { containerViews, namespaceOf, selectorMatches, stackWorkloads, TYPES } from "./kubernetes";

type NetworkPolicySpec = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicySpec>;
type EgressRule = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicyEgressRule>;
type Peer = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicyPeer>;
type ObjectMeta = pulumi.Unwrap<k8s.types.input.meta.v1.ObjectMeta>;

export interface EgressConfig {
    /** Private (or non-metadata link-local) ranges servers may reach: the stack's `egressAllowedCidrs`, and any private endpoint it names by IP. */
    readonly allowedEgressCidrs?: readonly string[];
}

const ALLOW_HINT =
    'If the servers must reach that range (a private model endpoint, a collector), list it in stack config egressAllowedCidrs and in the policy config { "copilot-network-egress-restricted": { "allowedEgressCidrs": [...] } }.';

function parsedAllowance(cfg: EgressConfig): Cidr[] {
    return (cfg.allowedEgressCidrs ?? []).map(parseCidr).filter((c): c is Cidr => c !== undefined);
}

const METADATA: readonly Cidr[] = METADATA_ADDRESSES.map((a) => parseAddress(a)).filter((c): c is Cidr => c !== undefined);
const NON_PUBLIC: readonly { range: Cidr; text: string }[] = [...PRIVATE_RANGES, ...LINK_LOCAL_RANGES].map((text) => ({ range: parseCidr(text) as Cidr, text }));

/**
 * What an address range (with exceptions) admits that it should not: metadata addresses always,
 * private and link-local ranges unless inside the allowance. Empty when it admits only public space.
 */
export function nonPublicReach(cidr: string, except: readonly string[], allowance: readonly Cidr[]): string[] {
    const block = parseCidr(cidr);
    if (block === undefined) return [`${cidr} (not a CIDR)`];
    const excepts = except.map(parseCidr).filter((c): c is Cidr => c !== undefined);
    const excepted = (c: Cidr) => excepts.some((e) => cidrContains(e, c));
    const out: string[] = [];
    for (const m of METADATA) if (cidrContains(block, m) && !excepted(m)) out.push(`the instance-metadata address ${METADATA_ADDRESSES[METADATA.indexOf(m)]}`);
    for (const { range, text } of NON_PUBLIC) {
        if (!cidrOverlaps(block, range)) continue;
        // Prefix-aligned ranges nest: the overlap is the smaller of the two.
        const overlap = block.prefix >= range.prefix ? block : range;
        if (excepted(overlap) || allowance.some((a) => cidrContains(a, overlap))) continue;
        out.push(block.prefix >= range.prefix ? `${cidr} (inside ${text})` : text);
    }
    return out;
}

const isEmptySelector = (s: { matchLabels?: unknown; matchExpressions?: unknown[] } | undefined) =>
    s !== undefined && Object.keys(asRecord(s.matchLabels)).length === 0 && (s.matchExpressions ?? []).length === 0;

/** Problems with one egress rule, each phrased as what it admits. */
export function egressRuleProblems(rule: EgressRule, allowance: readonly Cidr[]): string[] {
    const to: Peer[] = rule.to ?? [];
    if (to.length === 0) return ["a rule without \"to\" admits every destination (metadata, private ranges, the whole cluster)"];
    const onlyDns = (rule.ports ?? []).length > 0 && (rule.ports ?? []).every((p) => p.port === 53 || p.port === "dns" || p.port === "dns-tcp");
    const out: string[] = [];
    for (const peer of to) {
        if (peer.ipBlock) {
            for (const what of nonPublicReach(peer.ipBlock.cidr, peer.ipBlock.except ?? [], allowance)) out.push(`an ipBlock admits ${what}`);
        } else if (isEmptySelector(peer.namespaceSelector) && (peer.podSelector === undefined || isEmptySelector(peer.podSelector)) && !onlyDns) {
            out.push("a peer with an empty namespaceSelector admits every pod of every namespace");
        }
    }
    return out;
}

interface NetworkPolicyProps {
    metadata?: ObjectMeta;
    spec?: NetworkPolicySpec;
}

/** Kubernetes' default: Ingress always, Egress when the spec has egress rules. */
function policyTypesOf(spec: NetworkPolicySpec | undefined): string[] {
    if (spec?.policyTypes !== undefined) return [...spec.policyTypes];
    return spec?.egress !== undefined ? ["Ingress", "Egress"] : ["Ingress"];
}

function checkKubernetes(resources: readonly PolicyResource[], allowance: readonly Cidr[], report: (message: string, urn: string) => void): number {
    const servers = stackWorkloads(resources).filter(({ workload }) => containerViews(workload).some((v) => v.isServer()));
    const policies = resources
        .filter((r) => r.type === TYPES.networkPolicy)
        .map((r) => {
            const p = r.props as NetworkPolicyProps;
            return { name: p.metadata?.name ?? r.name, namespace: namespaceOf(p.metadata, r.provider), spec: p.spec };
        })
        .filter((p) => policyTypesOf(p.spec).includes("Egress"));
    for (const { resource, workload } of servers) {
        const covering = policies.filter((p) => p.namespace === workload.namespace && selectorMatches(p.spec?.podSelector, workload.podLabels));
        if (covering.length === 0) {
            report(
                `${workload.kind} "${workload.name}" (namespace ${workload.namespace}) runs Copilot CLI servers but no NetworkPolicy with policyTypes [Egress] selects its pods: ` +
                    "add one that allows DNS to kube-dns and TCP 443 to 0.0.0.0/0 except the private and link-local ranges, because the agent's tools run as the server and " +
                    "would otherwise reach cloud metadata (the node's identity), the API server and every private network.",
                resource.urn,
            );
            continue;
        }
        for (const p of covering) {
            for (const rule of p.spec?.egress ?? []) {
                for (const problem of egressRuleProblems(rule, allowance)) {
                    report(
                        `NetworkPolicy "${p.name}" lets ${workload.kind} "${workload.name}" (Copilot CLI servers) open connections it must not: ${problem}. ` +
                            "Narrow the rule (ipBlock except the private and link-local ranges; named namespaces or pods), because a prompt-injected tool runs with the server's reach. " +
                            ALLOW_HINT,
                        resource.urn,
                    );
                }
            }
        }
    }
    return servers.length;
}

/** The subset of azure-native security rules (inline `securityRules` or `SecurityRule` resources) the check reads. */
export interface NsgRule {
    name?: string;
    priority?: number;
    direction?: string;
    access?: string;
    protocol?: string;
    destinationAddressPrefix?: string;
    destinationAddressPrefixes?: string[];
    destinationPortRange?: string;
    destinationPortRanges?: string[];
}

const SUBNET_RE = /^azure-native:network(\/v[0-9a-z]+)?:Subnet$/;
const NSG_RE = /^azure-native:network(\/v[0-9a-z]+)?:NetworkSecurityGroup$/;
const RULE_RE = /^azure-native:network(\/v[0-9a-z]+)?:SecurityRule$/;
const lower = (s: unknown) => (typeof s === "string" ? s.toLowerCase() : "");

/**
 * What a probe destination is: a service tag, or a range. A rule's destination covers a probe when
 * it names that tag, is `*`, or is a range containing it; it touches the probe when it could match
 * any of its traffic (ranges overlap; the VirtualNetwork tag may hold any private range).
 */
type Probe = { readonly tag: string } | { readonly range: Cidr; readonly text: string };

function destinations(r: NsgRule): string[] {
    return [...(r.destinationAddressPrefix ? [r.destinationAddressPrefix] : []), ...(r.destinationAddressPrefixes ?? [])];
}
const allTraffic = (r: NsgRule) =>
    (r.protocol ?? "*") === "*" && ((r.destinationPortRange ?? "") === "*" || ((r.destinationPortRanges ?? []).length === 0 && r.destinationPortRange === undefined));

function covers(dest: string, probe: Probe): boolean {
    if (dest === "*" || lower(dest) === "any") return !("tag" in probe && probe.tag === "AzurePlatformIMDS");
    if ("tag" in probe) return lower(dest) === lower(probe.tag);
    const c = parseCidr(dest) ?? (parseAddress(dest) ? parseCidr(`${dest}/${dest.includes(":") ? 128 : 32}`) : undefined);
    return c !== undefined && cidrContains(c, probe.range);
}

function touches(dest: string, probe: Probe): boolean {
    if (covers(dest, probe)) return true;
    if ("tag" in probe) return probe.tag === "VirtualNetwork" && parseCidr(dest) !== undefined && NON_PUBLIC.some((n) => cidrOverlaps(n.range, parseCidr(dest) as Cidr));
    // The VirtualNetwork tag is this network, peered ones and on-premises ranges: any private range.
    if (lower(dest) === "virtualnetwork") return PRIVATE_RANGES.includes(probe.text);
    const c = parseCidr(dest) ?? (parseAddress(dest) ? parseCidr(`${dest}/${dest.includes(":") ? 128 : 32}`) : undefined);
    return c !== undefined && cidrOverlaps(c, probe.range);
}

/**
 * The first outbound rule (by priority) that decides anything about `probe`: an Allow that touches
 * it (some of its traffic gets out) or a Deny that covers all of it. Allows whose destinations lie
 * inside the allowance are skipped. Undefined: Azure's defaults decide (AllowVnetOutBound and
 * AllowInternetOutBound admit it; platform addresses are not filtered at all).
 */
export function firstDecision(rules: readonly NsgRule[], probe: Probe, allowance: readonly Cidr[]): { rule: NsgRule; access: "Allow" | "Deny" } | undefined {
    const sorted = rules.filter((r) => lower(r.direction) === "outbound").sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
    for (const r of sorted) {
        const dests = destinations(r);
        if (lower(r.access) === "deny") {
            if (allTraffic(r) && dests.some((d) => covers(d, probe))) return { rule: r, access: "Deny" };
        } else if (lower(r.access) === "allow") {
            const admitted = dests.filter((d) => touches(d, probe));
            const allowed = admitted.every((d) => {
                const c = parseCidr(d);
                return c !== undefined && allowance.some((a) => cidrContains(a, c)) && !METADATA.some((m) => cidrContains(c, m));
            });
            if (admitted.length > 0 && !allowed) return { rule: r, access: "Allow" };
        }
    }
    return undefined;
}

/** `/subscriptions/…/virtualNetworks/<vnet>/subnets/<subnet>` → the names, lowercase. */
function subnetNames(id: string): { vnet: string; subnet: string } | undefined {
    const m = /\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)$/i.exec(id);
    return m ? { vnet: m[1].toLowerCase(), subnet: m[2].toLowerCase() } : undefined;
}

function nsgRulesFor(resources: readonly PolicyResource[], subnetId: string): { nsg: string; rules: NsgRule[] } | string {
    const names = subnetNames(subnetId);
    if (names === undefined) return `its subnet id ${JSON.stringify(subnetId)} is not a subnet path`;
    const subnet = resources.find((r) => SUBNET_RE.test(r.type) && lower(r.props.virtualNetworkName) === names.vnet && lower(r.props.subnetName) === names.subnet);
    if (subnet === undefined) return `its subnet "${names.subnet}" (virtual network "${names.vnet}") is not declared in this stack, so its security group cannot be checked`;
    const nsgId = (subnet.props.networkSecurityGroup as { id?: string } | undefined)?.id;
    if (nsgId === undefined) return `its subnet "${names.subnet}" has no network security group, so Azure's defaults admit the whole virtual network and the internet`;
    const nsgName = /\/networkSecurityGroups\/([^/]+)$/i.exec(nsgId)?.[1]?.toLowerCase();
    const nsg = resources.find((r) => NSG_RE.test(r.type) && lower(r.props.networkSecurityGroupName) === nsgName);
    if (nsg === undefined) return `the security group of its subnet "${names.subnet}" is not declared in this stack, so it cannot be checked`;
    const inline = (nsg.props.securityRules ?? []) as NsgRule[];
    const separate = resources.filter((r) => RULE_RE.test(r.type) && lower(r.props.networkSecurityGroupName) === nsgName).map((r) => r.props as NsgRule);
    return { nsg: String(nsg.props.networkSecurityGroupName), rules: [...inline, ...separate] };
}

function checkAci(resources: readonly PolicyResource[], allowance: readonly Cidr[], report: (message: string, urn: string) => void): number {
    const groups = stackContainerGroups(resources).filter(({ views }) => views.some((v) => v.isServer()));
    for (const { resource, props } of groups) {
        const name = (props as AciContainerGroupProps).containerGroupName ?? resource.name;
        const subnets = ((props as AciContainerGroupProps).subnetIds ?? []).map((s) => s.id);
        if (subnets.length === 0) {
            report(
                `Container group "${name}" runs Copilot CLI servers outside a virtual network: deploy it into a delegated subnet whose security group restricts outbound traffic, ` +
                    "because a group without a subnet reaches every address and no rule can narrow it.",
                resource.urn,
            );
            continue;
        }
        const hasIdentity = (props as { identity?: { type?: string } }).identity !== undefined && lower((props as { identity?: { type?: string } }).identity?.type) !== "none";
        const probes: Probe[] = [
            ...(hasIdentity ? [{ tag: "AzurePlatformIMDS" }] : []),
            { tag: "VirtualNetwork" },
            ...NON_PUBLIC.filter((n) => n.range.version === 4).map((n) => ({ range: n.range, text: n.text })),
        ];
        for (const subnetId of subnets) {
            const found = nsgRulesFor(resources, subnetId);
            if (typeof found === "string") {
                report(`Container group "${name}" runs Copilot CLI servers, but ${found}: manage the subnet and its NSG in this stack, because the servers' outbound reach must be reviewable.`, resource.urn);
                continue;
            }
            for (const probe of probes) {
                const what = "tag" in probe ? (probe.tag === "AzurePlatformIMDS" ? "the instance-metadata service (the group's identity tokens)" : "the virtual network") : probe.text;
                const d = firstDecision(found.rules, probe, allowance);
                if (d?.access === "Deny") continue;
                const fix =
                    "tag" in probe && probe.tag === "AzurePlatformIMDS"
                        ? `add an outbound Deny to the service tag AzurePlatformIMDS (platform addresses ignore other rules), because the group's managed identity is reachable from every container`
                        : `add an outbound Deny for ${"tag" in probe ? "VirtualNetwork" : probe.text} before any Allow that reaches it, because a prompt-injected tool runs with the server's reach`;
                report(
                    `Container group "${name}" (Copilot CLI servers): NSG "${found.nsg}" ${d ? `rule "${d.rule.name ?? "?"}" allows` : "does not deny (Azure's defaults allow)"} outbound traffic to ${what}: ${fix}. ${ALLOW_HINT}`,
                    resource.urn,
                );
            }
        }
    }
    return groups.length;
}

export const egressRestricted: StackValidationPolicy = {
    name: "copilot-network-egress-restricted",
    description:
        "Copilot CLI servers cannot open connections to cloud metadata, private or link-local ranges or the whole cluster beyond the allowance: on Kubernetes a NetworkPolicy " +
        "with Egress selects every server workload and none of its rules admits those; on ACI the server subnet's NSG denies AzurePlatformIMDS (for groups with an identity), " +
        "VirtualNetwork and the private ranges outbound.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            allowedEgressCidrs: {
                type: "array",
                items: { type: "string" },
                default: [],
                description: "Private ranges the servers may reach (the stack's egressAllowedCidrs and private endpoints it names by IP). Never a range holding a metadata address.",
            },
        },
    },
    validateStack: (args, report) => {
        const allowance = parsedAllowance(args.getConfig<EgressConfig>());
        const checked = checkKubernetes(args.resources, allowance, report) + checkAci(args.resources, allowance, report);
        if (checked === 0) args.notApplicable("no Kubernetes or ACI Copilot CLI servers (Docker cannot restrict egress; docs/security.md \"Egress\")");
    },
};
