/**
 * ACI egress: the NSG outbound rules, first as pure functions read through a first-match evaluator
 * (what Azure does: lowest priority number first, Azure's defaults last), then as the program
 * registers them, and the AcrPull identity finding: attached to the group (ARM requires it), so the
 * subnets deny the IMDS service tag.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { egressPlan } from "../../../components/contract/egress";
import { edgeSubnetOutboundRules, edgeSubnetRules, RuleOptions, serverSubnetOutboundRules, serverSubnetRules } from "../../../components/aci/network";
import { firstDecision, NsgRule } from "../../../policy/egress";
import { parseCidr } from "../../../components/contract/cidr";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder } from "../../helpers/pulumiMocks";

const O: RuleOptions = { mode: "shared", exposure: "cluster", allowedCidrs: [], addressSpace: "10.42.0.0/16", port: 4321, redisPort: 6379 };
const range = (text: string) => ({ range: parseCidr(text)!, text });
const decide = (rules: readonly object[], probe: Parameters<typeof firstDecision>[1]) => firstDecision(rules as NsgRule[], probe, [])?.access ?? "Azure default (allow)";

describe("outbound rules (pure)", () => {
    it("servers: IMDS denied first; the VNet, private and link-local ranges denied; Storage SMB and Internet 443 allowed; the rest denied", () => {
        expect(serverSubnetOutboundRules(O).map((r) => [r.name, r.priority, r.access, r.destinationAddressPrefix ?? r.destinationAddressPrefixes, r.destinationPortRange ?? r.destinationPortRanges])).toEqual([
            ["deny-imds-out", 200, "Deny", "AzurePlatformIMDS", "*"],
            ["deny-vnet-out", 4050, "Deny", "VirtualNetwork", "*"],
            ["deny-private-out", 4060, "Deny", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"], "*"],
            ["allow-storage-smb-out", 4070, "Allow", "Storage", "445"],
            ["allow-internet-out", 4080, "Allow", "Internet", "443"],
            ["deny-all-out", 4090, "Deny", "*", "*"],
        ]);
        const rules = serverSubnetOutboundRules(O);
        expect(decide(rules, { tag: "AzurePlatformIMDS" })).toBe("Deny");
        expect(decide(rules, { tag: "VirtualNetwork" })).toBe("Deny");
        for (const r of ["10.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"]) expect(decide(rules, range(r))).toBe("Deny");
    });

    it("servers: allowed ranges (IPv4; ACI has no IPv6) on any port, a private endpoint by IP on its port, a public endpoint's port", () => {
        const plan = egressPlan(["10.20.0.0/24", "fd00:1::/64"], [
            { source: "provider.baseUrl", url: "http://10.30.0.5:8000/v1" },
            { source: "telemetry.otlpEndpoint", url: "https://otlp.example.com:4318" },
            { source: "telemetry.otlpEndpoint", url: "http://otel-collector.monitoring:4318" },
        ]);
        const rules = serverSubnetOutboundRules({ ...O, egress: plan });
        expect(rules.find((r) => r.name === "allow-egress-cidrs-out")).toMatchObject({ priority: 210, access: "Allow", destinationAddressPrefix: "10.20.0.0/24", destinationPortRange: "*", protocol: "*" });
        expect(rules.filter((r) => String(r.name).startsWith("allow-endpoint-"))).toEqual([
            expect.objectContaining({ name: "allow-endpoint-0-out", priority: 220, destinationAddressPrefix: "10.30.0.5/32", destinationPortRange: "8000", protocol: "Tcp" }),
        ]);
        expect(rules.find((r) => r.name === "allow-internet-out")).toMatchObject({ destinationPortRanges: ["443", "4318"] });
    });

    it("edge: HAProxy reaches the servers' port and nothing private; priorities and names are unique per NSG", () => {
        const rules = edgeSubnetOutboundRules(O);
        expect(rules.find((r) => r.name === "allow-servers-out")).toMatchObject({ access: "Allow", destinationAddressPrefix: "10.42.0.0/18", destinationPortRange: "4321" });
        // The only way into the network is the servers' port (the policy pack checks server subnets only).
        expect(firstDecision(rules as NsgRule[], { tag: "VirtualNetwork" }, [])?.rule.name).toBe("allow-servers-out");
        expect(decide(rules, range("192.168.0.0/16"))).toBe("Deny");
        expect(decide(rules, { tag: "AzurePlatformIMDS" })).toBe("Deny");
        for (const mode of ["shared", "per-user"] as const) {
            for (const all of [
                [...serverSubnetRules({ ...O, mode }), ...serverSubnetOutboundRules({ ...O, mode, egress: egressPlan(["10.20.0.0/24"], [{ source: "s", url: "http://10.30.0.5:8000" }]) })],
                [...edgeSubnetRules({ ...O, mode }), ...edgeSubnetOutboundRules({ ...O, mode })],
            ]) {
                expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
                for (const dir of ["Inbound", "Outbound"]) {
                    const ps = all.filter((r) => r.direction === dir).map((r) => r.priority);
                    expect(new Set(ps).size).toBe(ps.length);
                    for (const p of ps) {
                        expect(p).toBeGreaterThanOrEqual(100);
                        expect(p).toBeLessThanOrEqual(4096);
                    }
                }
            }
        }
    });
});

describe("under mocks", () => {
    let rec: MockRecorder;
    beforeAll(() => {
        rec = installMocks();
    });
    beforeEach(() => rec.clear());
    const NSG = "azure-native:network:NetworkSecurityGroup";
    const base: RawConfig = { platform: "aci", githubToken: "gho_service_token", replicas: "2" };

    it("both subnets' NSGs carry the outbound rules, with the stack's egressAllowedCidrs on the servers only", async () => {
        await deployUnderMocks({ ...base, egressAllowedCidrs: '["10.20.0.0/24"]' });
        const servers = (rec.one(NSG, "copilot-net-servers-nsg").inputs as Obj).securityRules as Obj[];
        const edge = (rec.one(NSG, "copilot-net-edge-nsg").inputs as Obj).securityRules as Obj[];
        expect(servers.filter((r) => r.direction === "Outbound").map((r) => r.name)).toEqual([
            "deny-imds-out",
            "allow-egress-cidrs-out",
            "deny-vnet-out",
            "deny-private-out",
            "allow-storage-smb-out",
            "allow-internet-out",
            "deny-all-out",
        ]);
        expect(edge.filter((r) => r.direction === "Outbound").map((r) => r.name)).toEqual(["deny-imds-out", "allow-servers-out", "deny-vnet-out", "deny-private-out", "allow-storage-smb-out", "allow-internet-out", "deny-all-out"]);
        // Inbound rules are unchanged and come first.
        expect(servers[0]).toMatchObject({ name: "allow-edge", direction: "Inbound" });
    });

    it("the AcrPull identity is both the group's identity and its registry credential (ARM requires both), so IMDS is denied on every subnet a holder sits in", async () => {
        await deployUnderMocks(base);
        const groups = rec.ofType("azure-native:containerinstance:ContainerGroup").map((g) => g.inputs as Obj);
        const holders = groups.filter((g) => g.identity !== undefined);
        expect(holders.length).toBeGreaterThan(0);
        for (const g of holders) {
            expect(g.identity.type).toBe("UserAssigned");
            expect(g.imageRegistryCredentials).toEqual([{ server: expect.any(String), identity: g.identity.userAssignedIdentities[0] }]);
        }
        for (const nsg of rec.ofType(NSG)) {
            expect(decide((nsg.inputs as Obj).securityRules, { tag: "AzurePlatformIMDS" }), nsg.name).toBe("Deny");
        }
        // With a prebuilt public image nothing is attached.
        rec.clear();
        await deployUnderMocks({ ...base, image: "ghcr.io/example/copilot-cli:1.0.102" });
        expect(rec.ofType("azure-native:containerinstance:ContainerGroup").every((g) => (g.inputs as Obj).identity === undefined)).toBe(true);
    });
});
