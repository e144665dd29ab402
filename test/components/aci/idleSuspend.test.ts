/**
 * Idle suspend on ACI under mocks: one suspender group with its own user-assigned identity, a custom
 * role that can only read, start and stop container groups, assigned on each active user's group and
 * nowhere else; the group sits in the control subnet (nothing reaches it; it reaches the servers'
 * port, ARM and the metadata service), and its users file (tokens) and code are secret volumes. Each
 * user group carries the suspended tag a wake reads; Pulumi sets nothing a stop changes.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../../components/config";
import { AZURE_SUSPENDED_TAG } from "@copilot-fleet/client";
import { SUSPENDER_FILES, SUSPENDER_USERS_DIR, SUSPENDER_CODE_DIR } from "../../../components/contract/suspend";
import { SUSPENDER_ROLE_ACTIONS } from "../../../components/aci/suspender";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder, MOCK_SUBSCRIPTION_ID, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
beforeAll(() => void (rec = installMocks()));
beforeEach(() => rec.clear());

const base: RawConfig = {
    platform: "aci",
    mode: "per-user",
    githubToken: "gho_service",
    image: "ghcr.io/example/copilot-cli:1.0.102",
    users: '["alice","bob",{"id":"carol","suspended":true}]',
    exposure: "internal",
    allowedCidrs: '["10.9.0.0/24"]',
    idleSuspendMinutes: "30",
};
const GROUP = "azure-native:containerinstance:ContainerGroup";
const inputs = (r: RecordedResource) => r.inputs as Obj;
const one = (type: string, name?: string): RecordedResource => {
    const all = rec.ofType(type).filter((r) => name === undefined || r.name === name);
    if (all.length !== 1) throw new Error(`expected one ${type} ${name ?? ""}, found ${all.map((r) => r.name).join(", ") || "none"}`);
    return all[0];
};
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
const rules = (nsg: string) => inputs(one("azure-native:network:NetworkSecurityGroup", nsg)).securityRules as Obj[];

describe("idle suspend on ACI", () => {
    it("one identity and one custom role (read, start, stop groups), assigned on each active user's group only", async () => {
        await deployUnderMocks(base);
        const identity = one("azure-native:managedidentity:UserAssignedIdentity", "copilot-idle-suspender-identity");
        const role = inputs(one("azure-native:authorization:RoleDefinition"));
        const rg = `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/${inputs(one("azure-native:resources:ResourceGroup")).resourceGroupName}`;
        expect(role.scope).toBe(rg);
        expect(role.assignableScopes).toEqual([rg]);
        expect(role.permissions).toEqual([{ actions: [...SUSPENDER_ROLE_ACTIONS], notActions: [], dataActions: [], notDataActions: [] }]);
        expect(role.roleName).toMatch(/^copilot-fleet idle suspender copilot [0-9a-f]{10}$/);

        const userGroups = rec.ofType(GROUP).filter((g) => g.name.startsWith("copilot-u-"));
        expect(userGroups.map((g) => g.name).sort()).toEqual(["copilot-u-alice", "copilot-u-bob"]);
        const assignments = rec.ofType("azure-native:authorization:RoleAssignment").map((r) => inputs(r));
        expect(assignments.map((a) => a.scope).sort()).toEqual(userGroups.map((g) => g.id).sort());
        const roleDef = one("azure-native:authorization:RoleDefinition");
        for (const a of assignments) {
            expect(a.principalId).toBe((identity.state as Obj).principalId);
            expect(a.principalType).toBe("ServicePrincipal");
            expect(a.roleDefinitionId).toBe(roleDef.id);
        }
    });

    it("the suspender group: its identity, the control subnet, a private address nothing listens on, secret volumes for the code and the tokens, no secret in env", async () => {
        const { resolved } = await deployUnderMocks(base);
        const g = inputs(one(GROUP, "copilot-idle-suspender"));
        const identity = one("azure-native:managedidentity:UserAssignedIdentity", "copilot-idle-suspender-identity");
        expect(g.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: [identity.id] });
        expect(g.ipAddress).toMatchObject({ type: "Private", ports: [{ port: 9, protocol: "TCP" }] });
        expect(g.subnetIds).toEqual([{ id: one("azure-native:network:Subnet", "copilot-net-control").id }]);
        expect(g.containers).toHaveLength(1);
        const c = g.containers[0] as Obj;
        expect(c.image).toBe("docker.io/library/node:20.19.5-bookworm-slim");
        expect(c.command).toEqual(["node", `${SUSPENDER_CODE_DIR}/suspender-main.js`]);
        const env = Object.fromEntries((c.environmentVariables as Obj[]).map((e) => [e.name, e.value]));
        expect(env).toMatchObject({
            SUSPENDER_PLATFORM: "aci",
            SUSPENDER_IDLE_MINUTES: "30",
            SUSPENDER_SUBSCRIPTION_ID: MOCK_SUBSCRIPTION_ID,
            SUSPENDER_RESOURCE_GROUP: inputs(one("azure-native:resources:ResourceGroup")).resourceGroupName,
            SUSPENDER_AZURE_CLIENT_ID: (identity.state as Obj).clientId,
        });
        expect((c.environmentVariables as Obj[]).filter((e) => e.secureValue !== undefined)).toEqual([]);
        expect(c.livenessProbe.exec.command[0]).toBe("node");
        expect(c.volumeMounts).toEqual([
            { name: "suspender-code", mountPath: SUSPENDER_CODE_DIR, readOnly: true },
            { name: "suspender-users", mountPath: SUSPENDER_USERS_DIR, readOnly: true },
        ]);
        const volumes = Object.fromEntries((g.volumes as Obj[]).map((v) => [v.name, v.secret as Record<string, string>]));
        expect(Object.keys(volumes["suspender-code"]).sort()).toEqual([...SUSPENDER_FILES].sort());
        expect(decode(volumes["suspender-code"]["suspender-main.js"])).toContain("SUSPENDER_PLATFORM");

        // The users file: the active users' private addresses, tokens and group names; the config-suspended user has no group to stop.
        const users = JSON.parse(decode(volumes["suspender-users"]["users.json"])) as Record<string, { endpoint: string; connectionToken: string; server: string }>;
        const out = resolved.users as Record<string, { endpoint: string; connectionToken: string; server?: string }>;
        expect(Object.keys(users).sort()).toEqual(["alice", "bob"]);
        for (const id of ["alice", "bob"]) {
            expect(users[id]).toEqual({ endpoint: out[id].endpoint, connectionToken: out[id].connectionToken, server: `copilot-u-${id}` });
            expect(out[id].server).toBe(`copilot-u-${id}`);
        }
        expect(out.carol.server).toBeUndefined();
        // Secret all the way to the engine: Pulumi sends a property as a secret when any part of it is one, and the
        // users file is the only secret part of `volumes` (the code is plain), so the tag here is the users file's.
        const rawVolumes = (one(GROUP, "copilot-idle-suspender").rawInputs as Obj).volumes as Obj;
        expect(rawVolumes[pulumi.runtime.specialSigKey]).toBe(pulumi.runtime.specialSecretSig);
        expect((rawVolumes.value as Obj[]).find((v) => v.name === "suspender-code")?.secret["suspender-main.js"]).toBe(volumes["suspender-code"]["suspender-main.js"]);
        expect(resolved.idleSuspend).toEqual({
            minutes: 30,
            roleDefinitionId: one("azure-native:authorization:RoleDefinition").id,
            subscriptionId: MOCK_SUBSCRIPTION_ID,
            resourceGroupName: inputs(one("azure-native:resources:ResourceGroup")).resourceGroupName,
        });
    });

    it("user groups carry the suspended tag a wake reads, and nothing a stop changes", async () => {
        await deployUnderMocks(base);
        for (const id of ["alice", "bob"]) {
            const g = inputs(one(GROUP, `copilot-u-${id}`));
            expect(g.tags[AZURE_SUSPENDED_TAG]).toBe("false");
            expect(g.restartPolicy).toBe("Always");
            // No input describes running or stopped: ARM's stop changes the instance view only, which `pulumi up` does not diff.
            expect(JSON.stringify(g)).not.toMatch(/"(state|instanceView)"/);
        }
        expect(rec.ofType(GROUP).map((g) => g.name)).not.toContain("copilot-u-carol");
    });

    it("the control subnet: nothing reaches it; it reaches the servers' port, ARM, the internet on 443, and not IMDS-denied; the servers admit it", async () => {
        await deployUnderMocks(base);
        const subnet = inputs(one("azure-native:network:Subnet", "copilot-net-control"));
        expect(subnet.addressPrefix).toBe("10.42.128.0/18");
        const control = rules("copilot-net-control-nsg");
        expect(control.filter((r) => r.direction === "Inbound")).toEqual([expect.objectContaining({ name: "deny-all-in", access: "Deny", sourceAddressPrefix: "*", destinationPortRange: "*" })]);
        const out = control.filter((r) => r.direction === "Outbound");
        const allowed = out.filter((r) => r.access === "Allow").map((r) => `${r.destinationAddressPrefix}:${r.destinationPortRange}`);
        expect(allowed).toEqual(["10.42.0.0/18:4321", "AzureResourceManager:443", "Internet:443"]);
        expect(out.some((r) => r.destinationAddressPrefix === "AzurePlatformIMDS")).toBe(false);
        expect(out.at(-1)).toMatchObject({ name: "deny-all-out", access: "Deny" });
        // The servers keep denying IMDS and each other, and admit the suspender on their port only.
        const servers = rules("copilot-net-servers-nsg");
        expect(servers.find((r) => r.name === "allow-suspender")).toMatchObject({ direction: "Inbound", access: "Allow", sourceAddressPrefix: "10.42.128.0/18", destinationPortRange: "4321" });
        expect(servers.find((r) => r.name === "deny-imds-out")).toMatchObject({ access: "Deny" });
        expect(servers.find((r) => r.name === "deny-server-to-server")?.priority).toBeLessThan(servers.find((r) => r.name === "allow-suspender")?.priority as number);
    });

    it("without idleSuspendMinutes: no control subnet, no suspender, no role, no tag", async () => {
        const { resolved } = await deployUnderMocks({ ...base, idleSuspendMinutes: undefined });
        expect(rec.ofType("azure-native:network:Subnet").map((s) => s.name)).toEqual(["copilot-net-servers"]);
        expect(rec.ofType("azure-native:authorization:RoleDefinition")).toEqual([]);
        expect(rec.ofType(GROUP).map((g) => g.name).sort()).toEqual(["copilot-u-alice", "copilot-u-bob"]);
        expect(inputs(one(GROUP, "copilot-u-alice")).tags[AZURE_SUSPENDED_TAG]).toBeUndefined();
        expect(resolved.idleSuspend).toBeUndefined();
    });
});
