import { describe, expect, it } from "vitest";
import {
    CONTAINER_GROUP_NAME,
    globalName,
    hyphenatedName,
    SHARE_NAME,
    stackResourceGroupName,
    STORAGE_ACCOUNT_NAME,
    userGroupName,
    userShareName,
} from "../../../components/aci/naming";
import { clientSources, edgeSubnetRules, serverSubnetRules, subnetPrefixes } from "../../../components/aci/network";
import { roleDefinitionId } from "../../../components/aci/registry";
import { cpuCores, memoryGb, renderServerContainer } from "../../../components/aci/render";
import { shareQuotaGib } from "../../../components/aci/storage";
import { buildServerSpec } from "../../../components/contract/server";

describe("ACI units from the spec's Kubernetes quantities (rounded up, never below)", () => {
    it.each([
        ["250m", 0.3],
        ["500m", 0.5],
        ["1", 1],
        ["2", 2],
        ["1500m", 1.5],
        ["1001m", 1.1],
        ["1m", 0.1],
    ])("cpu %s → %d cores", (q, cores) => expect(cpuCores(q)).toBe(cores));

    it.each([
        ["512Mi", 0.6],
        ["1Gi", 1.1],
        ["2Gi", 2.2],
        ["4Gi", 4.3],
        ["1G", 1],
        ["1500M", 1.5],
        ["1", 0.1],
    ])("memory %s → %d GB", (q, gb) => expect(memoryGb(q)).toBe(gb));

    it.each([
        ["10Gi", 10],
        ["100G", 94],
        ["1Mi", 1],
        ["1Ti", 1024],
    ])("share quota %s → %d GiB", (q, gib) => expect(shareQuotaGib(q)).toBe(gib));

    it("a missing secret value fails loudly instead of rendering an empty secure env", () => {
        const spec = buildServerSpec({ credential: { kind: "githubToken" } });
        expect(() => renderServerContainer(spec, "img:1.0.0", { "connection-token": "t" }, "copilot-1")).toThrow("no value for secret key github-token (env COPILOT_GITHUB_TOKEN)");
    });
});

describe("Azure names", () => {
    const longest = "a".repeat(40);
    it.each(["alice", "a", "0", longest, "a--b", "a-b", `${"x-".repeat(19)}yz`, "9-9"])("user %s gets valid group and share names", (id) => {
        expect(userGroupName("copilot", id)).toMatch(CONTAINER_GROUP_NAME);
        expect(userShareName(id)).toMatch(SHARE_NAME);
    });

    it("keeps readable names when they fit, hashes only when it must", () => {
        expect(userGroupName("copilot", "alice")).toBe("copilot-u-alice");
        expect(userShareName("alice")).toBe("u-alice");
        expect(userGroupName("copilot", "a--b")).toMatch(/^copilot-u-a-b-[0-9a-f]{6}$/);
        expect(userGroupName("copilot", "a--b")).not.toBe(userGroupName("copilot", "a-b"));
    });

    it("cuts a name that is too long and still tells ids apart", () => {
        const fleet = "f".repeat(30);
        const a = userGroupName(fleet, `${"a".repeat(39)}1`);
        const b = userGroupName(fleet, `${"a".repeat(39)}2`);
        expect(a).toMatch(CONTAINER_GROUP_NAME);
        expect(a.length).toBe(63);
        expect(a).not.toBe(b);
        expect(hyphenatedName("p", "q", 63)).toBe("p-q");
    });

    it("globally unique names are stable, scoped and the right shape", () => {
        const one = globalName("copilot", "storage:/subscriptions/1/resourceGroups/rg/copilot", 24);
        expect(one).toMatch(STORAGE_ACCOUNT_NAME);
        expect(one).toBe(globalName("copilot", "storage:/subscriptions/1/resourceGroups/RG/copilot", 24));
        expect(one).not.toBe(globalName("copilot", "storage:/subscriptions/2/resourceGroups/rg/copilot", 24));
    });

    it("a stack's resource group name uses only the characters ARM accepts", () => {
        expect(stackResourceGroupName("copilot-fleet", "prod")).toBe("copilot-fleet-prod");
        expect(stackResourceGroupName("copilot-fleet", "org/prod.")).toBe("copilot-fleet-org-prod-");
    });

    it("AcrPull's role definition id carries the registry's subscription", () => {
        expect(roleDefinitionId("/subscriptions/abc/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r", "role")).toBe(
            "/subscriptions/abc/providers/Microsoft.Authorization/roleDefinitions/role",
        );
        expect(() => roleDefinitionId("r-id", "role")).toThrow("not an Azure resource id");
    });
});

describe("network security rules", () => {
    const o = { exposure: "cluster" as const, allowedCidrs: [], addressSpace: "10.42.0.0/16", port: 4321, redisPort: 6379 };

    it("splits the address space into server, edge and control quarters", () => {
        expect(subnetPrefixes("10.42.0.0/16")).toEqual({ servers: "10.42.0.0/18", edge: "10.42.64.0/18", control: "10.42.128.0/18" });
        expect(subnetPrefixes("172.20.4.0/24")).toEqual({ servers: "172.20.4.0/26", edge: "172.20.4.64/26", control: "172.20.4.128/26" });
    });

    it("exposure means what it means on Kubernetes", () => {
        expect(clientSources("cluster", [], "10.42.0.0/16")).toEqual(["10.42.0.0/16"]);
        expect(clientSources("internal", [], "10.42.0.0/16")).toEqual(["VirtualNetwork"]);
        expect(clientSources("internal", ["10.50.0.0/16"], "10.42.0.0/16")).toEqual(["10.50.0.0/16"]);
        expect(() => clientSources("public", ["203.0.113.0/24"], "10.42.0.0/16")).toThrow("not supported on ACI");
    });

    it("shared: servers accept the edge and the clients on the server port, and nothing else from the network", () => {
        expect(serverSubnetRules({ ...o, mode: "shared" }).map((r) => [r.name, r.priority, r.access, r.sourceAddressPrefix, r.destinationPortRange])).toEqual([
            ["allow-edge", 110, "Allow", "10.42.64.0/18", "4321"],
            ["allow-clients", 120, "Allow", "10.42.0.0/16", "4321"],
            ["deny-vnet", 4000, "Deny", "VirtualNetwork", "*"],
        ]);
        expect(edgeSubnetRules({ ...o, mode: "shared", exposure: "internal", allowedCidrs: ["10.50.0.0/16", "10.60.0.0/16"] })[0]).toMatchObject({
            sourceAddressPrefixes: ["10.50.0.0/16", "10.60.0.0/16"],
            destinationPortRanges: ["4321", "6379", "8404"],
        });
    });

    it("per-user: the server subnet is denied to itself before any allow", () => {
        const rules = serverSubnetRules({ ...o, mode: "per-user" });
        expect(rules[0]).toMatchObject({ name: "deny-server-to-server", priority: 100, access: "Deny", sourceAddressPrefix: "10.42.0.0/18", destinationPortRange: "*" });
        expect(rules.map((r) => r.name)).not.toContain("allow-edge");
        expect(Math.min(...rules.filter((r) => r.access === "Allow").map((r) => r.priority as number))).toBeGreaterThan(100);
    });
});
