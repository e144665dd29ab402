/** copilot-network-egress-restricted: a compliant input per platform, then one change per case. */
import { describe, expect, it } from "vitest";
import { egressRestricted } from "../../policy/egress";
import { serverEgressRules } from "../../components/kubernetes/egress";
import { egressPlan } from "../../components/contract/egress";
import { serverSubnetOutboundRules, serverSubnetRules } from "../../components/aci/network";
import { aciServer, K8S, kubernetesStack, serverNetworkPolicy } from "./fixtures";
import { FakeResource, runStackPolicy, withChange } from "./util";

type Np = { metadata: { namespace?: string }; spec: { podSelector?: object; policyTypes?: string[]; ingress?: object[]; egress?: Record<string, unknown>[] } };

/** The compliant server policy: the program's own egress rules on the fixture's ingress policy. */
function egressPolicy(allowed: string[] = []): FakeResource {
    return withChange(serverNetworkPolicy(), (r) => {
        const p = r.props as Np;
        p.spec.policyTypes = ["Ingress", "Egress"];
        p.spec.egress = JSON.parse(JSON.stringify(serverEgressRules(egressPlan(allowed, []))));
    });
}
const k8sStack = (np: FakeResource = egressPolicy()) => [...kubernetesStack().filter((r) => r.type !== K8S.networkPolicy), np];
const change = (f: (p: Np) => void) => k8sStack(withChange(egressPolicy(), (r) => f(r.props as Np)));

describe("copilot-network-egress-restricted: Kubernetes", () => {
    it.each([
        ["compliant", k8sStack(), {}, 0],
        ["no egress policy (ingress only)", kubernetesStack(), {}, 1],
        ["egress policy selects other pods", change((p) => void (p.spec.podSelector = { matchLabels: { app: "other" } })), {}, 1],
        ["egress policy in another namespace", change((p) => void (p.metadata.namespace = "other")), {}, 1],
        ["a rule without to", change((p) => void p.spec.egress!.push({ ports: [{ port: 443 }] })), {}, 1],
        ["ipBlock 0.0.0.0/0 without excepts", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] })), {}, 7],
        ["link-local not excepted", change((p) => void ((p.spec.egress![1].to as { ipBlock: { except: string[] } }[])[0].ipBlock.except = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8"])), {}, 2],
        ["a private range", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "10.20.0.0/24" } }] })), {}, 1],
        ["a private range the reviewer allowed", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "10.20.0.0/24" } }] })), { allowedEgressCidrs: ["10.20.0.0/16"] }, 0],
        ["a wider range than the allowance", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "10.0.0.0/8" } }] })), { allowedEgressCidrs: ["10.20.0.0/16"] }, 1],
        ["metadata even when allowed", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "169.254.169.254/32" } }] })), { allowedEgressCidrs: ["169.254.0.0/16"] }, 1],
        ["NodeLocal DNS when allowed", change((p) => void p.spec.egress!.push({ to: [{ ipBlock: { cidr: "169.254.20.10/32" } }] })), { allowedEgressCidrs: ["169.254.20.10/32"] }, 0],
        ["every pod of every namespace", change((p) => void p.spec.egress!.push({ to: [{ namespaceSelector: {} }] })), {}, 1],
        ["every namespace on DNS only", change((p) => void p.spec.egress!.push({ to: [{ namespaceSelector: {} }], ports: [{ protocol: "UDP", port: 53 }] })), {}, 0],
        ["a named namespace on one port", change((p) => void p.spec.egress!.push({ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ port: 4318 }] })), {}, 0],
        ["egress implied by rules without policyTypes", change((p) => void delete p.spec.policyTypes), {}, 0],
    ] as const)("%s", async (_n, resources, config, count) => {
        const run = await runStackPolicy(egressRestricted, resources, config);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) {
            expect(v.urn).toMatch(/Deployment::fleet$/);
            expect(v.message).toMatch(/because/);
        }
    });

    it("the allowance is a documented list defaulting to empty", () => {
        expect(egressRestricted.configSchema?.properties.allowedEgressCidrs).toMatchObject({ type: "array", default: [] });
    });

    it("is not applicable without Kubernetes or ACI servers", async () => {
        const run = await runStackPolicy(egressRestricted, [kubernetesStack().find((r) => r.name === "fleet-redis")!]);
        expect(run.notApplicable).toHaveLength(1);
    });
});

const RG = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network";
const O = { mode: "shared" as const, exposure: "cluster" as const, allowedCidrs: [], addressSpace: "10.42.0.0/16", port: 4321, redisPort: 6379 };
type Rule = Record<string, unknown>;
/** Plain JSON copies of the program's rules, as the engine hands them to a policy. */
const plain = (rs: readonly object[]): Rule[] => JSON.parse(JSON.stringify(rs)) as Rule[];

/** An ACI server on a subnet of this stack whose NSG carries the program's own rules. */
function aciStack(rules: Rule[] = plain([...serverSubnetRules(O), ...serverSubnetOutboundRules(O)]), identity = true): FakeResource[] {
    const group = withChange(aciServer(), (r) => {
        r.props.subnetIds = [{ id: `${RG}/virtualNetworks/vnet/subnets/servers` }];
        if (identity) r.props.identity = { type: "UserAssigned", userAssignedIdentities: ["/id"] };
    });
    return [
        group,
        { type: "azure-native:network:Subnet", name: "servers", props: { virtualNetworkName: "vnet", subnetName: "servers", networkSecurityGroup: { id: `${RG}/networkSecurityGroups/servers-nsg` } } },
        { type: "azure-native:network:NetworkSecurityGroup", name: "servers-nsg", props: { networkSecurityGroupName: "servers-nsg", securityRules: JSON.parse(JSON.stringify(rules)) } },
    ];
}
const rulesWith = (f: (rules: Rule[]) => Rule[]) => aciStack(f(plain([...serverSubnetRules(O), ...serverSubnetOutboundRules(O)])));
const without = (name: string) => rulesWith((rs) => rs.filter((r) => r.name !== name));
const withoutAll = (...names: string[]) => rulesWith((rs) => rs.filter((r) => !names.includes(String(r.name))));

describe("copilot-network-egress-restricted: ACI", () => {
    it.each([
        ["compliant", aciStack(), {}, 0],
        ["no IMDS deny on a group with an identity", without("deny-imds-out"), {}, 1],
        ["no IMDS deny and no identity", aciStack(plain(serverSubnetOutboundRules(O).filter((r) => r.name !== "deny-imds-out")), false), {}, 0],
        ["no VNet deny: the closing deny-all still covers it", without("deny-vnet-out"), {}, 0],
        ["neither the VNet deny nor the deny-all", withoutAll("deny-vnet-out", "deny-all-out"), {}, 1],
        ["neither the private deny nor the deny-all (the VNet tag is not a range)", withoutAll("deny-private-out", "deny-all-out"), {}, 6],
        ["no denies at all: Azure's defaults allow", aciStack([]), {}, 8],
        ["an allow-all outbound before the denies", rulesWith((rs) => [...rs, { name: "allow-all", priority: 150, direction: "Outbound", access: "Allow", protocol: "*", destinationAddressPrefix: "*", destinationPortRange: "*" }]), {}, 7],
        ["an allowed private range", rulesWith((rs) => [...rs, { name: "allow-llm", priority: 150, direction: "Outbound", access: "Allow", protocol: "Tcp", destinationAddressPrefix: "10.30.0.5/32", destinationPortRange: "8000" }]), {}, 2],
        ["an allowed private range the reviewer allowed", rulesWith((rs) => [...rs, { name: "allow-llm", priority: 150, direction: "Outbound", access: "Allow", protocol: "Tcp", destinationAddressPrefix: "10.30.0.5/32", destinationPortRange: "8000" }]), { allowedEgressCidrs: ["10.30.0.0/24"] }, 0],
        ["a Deny limited to one port does not count", rulesWith((rs) => rs.filter((r) => r.name !== "deny-all-out").map((r) => (r.name === "deny-vnet-out" ? { ...r, protocol: "Tcp", destinationPortRange: "443" } : r))), {}, 1],
        ["the group has no subnet", [withChange(aciServer(), (r) => void delete r.props.subnetIds)], {}, 1],
        ["the subnet is not in the stack", aciStack().filter((r) => r.type !== "azure-native:network:Subnet"), {}, 1],
        ["separate SecurityRule resources count", [
            ...aciStack(plain(serverSubnetRules(O))),
            ...serverSubnetOutboundRules(O).map((r, i) => ({ type: "azure-native:network:SecurityRule", name: `r${i}`, props: { ...JSON.parse(JSON.stringify(r)), networkSecurityGroupName: "servers-nsg" } })),
        ], {}, 0],
    ] as const)("%s", async (_n, resources, config, count) => {
        const run = await runStackPolicy(egressRestricted, resources, config);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) expect(v.message).toMatch(/because/);
    });
});
