import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../../components/config";
import { HAPROXY_IMAGE } from "../../../components/contract/haproxy";
import { REDIS_IMAGE } from "../../../components/contract/redis";
import { HEALTHCHECK_PATH, SESSION_STATE_PATH } from "../../../components/contract/server";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { AZURE_TAG_NAME_FORBIDDEN } from "../../../components/contract/labels";
import { installMocks, MOCK_ACI_SUBNET_PREFIX, MOCK_IMAGE_DIGEST, MOCK_STORAGE_KEY, MOCK_SUBSCRIPTION_ID, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
let pulumiMod: typeof pulumi;

beforeAll(async () => {
    rec = installMocks();
    pulumiMod = await import("@pulumi/pulumi");
});
beforeEach(() => rec.clear());

const GROUP = "azure-native:containerinstance:ContainerGroup";
const inputsOf = (r: RecordedResource) => r.inputs as Obj;
const stateOf = (r: RecordedResource) => r.state as Obj;
const groups = () => rec.ofType(GROUP);
const serverGroups = () => groups().filter((g) => inputsOf(g).tags["app.kubernetes.io.component"] === "server");
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
const envOf = (g: RecordedResource) => inputsOf(g).containers[0].environmentVariables as Obj[];

/** Every key named like a credential anywhere in an object tree (registry passwords, usernames). */
function credentialKeys(v: unknown, path = ""): string[] {
    if (Array.isArray(v)) return v.flatMap((x, i) => credentialKeys(x, `${path}[${i}]`));
    if (v && typeof v === "object") {
        return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [
            ...(/password|username|adminUser/i.test(k) && x !== undefined && x !== false ? [`${path}.${k}`] : []),
            ...credentialKeys(x, `${path}.${k}`),
        ]);
    }
    return [];
}

describe("aci shared fleet, image built into the stack's registry", () => {
    const base: RawConfig = { platform: "aci", githubToken: "gho_service_token", replicas: "3" };

    it("registers three replica groups, the load balancer, Redis, one share, the registry and its pull identity", async () => {
        await run(base);
        const set = rec.resources.map((r) => `${r.type} ${r.name}`).sort();
        expect(set).toEqual(
            [
                "azure-native:authorization:RoleAssignment copilot-registry-acrpull",
                "azure-native:containerinstance:ContainerGroup copilot-1",
                "azure-native:containerinstance:ContainerGroup copilot-2",
                "azure-native:containerinstance:ContainerGroup copilot-3",
                "azure-native:containerinstance:ContainerGroup copilot-lb",
                "azure-native:containerinstance:ContainerGroup copilot-redis",
                "azure-native:containerregistry:Registry copilot-registry-acr",
                "azure-native:managedidentity:UserAssignedIdentity copilot-registry-pull",
                "azure-native:network:NetworkSecurityGroup copilot-net-edge-nsg",
                "azure-native:network:NetworkSecurityGroup copilot-net-servers-nsg",
                "azure-native:network:Subnet copilot-net-edge",
                "azure-native:network:Subnet copilot-net-servers",
                "azure-native:network:VirtualNetwork copilot-net-vnet",
                "azure-native:resources:ResourceGroup copilot-rg",
                "azure-native:storage:FileShare copilot-storage-session-state",
                "azure-native:storage:StorageAccount copilot-storage-account",
                "copilot-fleet:index:AciNetwork copilot-net",
                "copilot-fleet:index:AciRegistry copilot-registry",
                "copilot-fleet:index:AciSharedFleet copilot",
                "copilot-fleet:index:AciStorage copilot-storage",
                "copilot-fleet:index:CopilotImage copilot-image",
                "docker:index/image:Image copilot-image",
                "random:index/randomPassword:RandomPassword copilot-connection-token",
                "random:index/randomPassword:RandomPassword copilot-redis-password",
            ].sort(),
        );
    });

    it("mounts one share on every replica, at the session-state path only, with local scratch elsewhere", async () => {
        await run(base);
        const account = inputsOf(rec.one("azure-native:storage:StorageAccount", "copilot-storage-account")).accountName as string;
        expect(serverGroups()).toHaveLength(3);
        for (const g of serverGroups()) {
            const i = inputsOf(g);
            expect(i.volumes).toEqual([
                { name: "session-state", azureFile: { shareName: "session-state", storageAccountName: account, storageAccountKey: MOCK_STORAGE_KEY } },
                { name: "copilot-home", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
            ]);
            const mounts = i.containers[0].volumeMounts as Obj[];
            expect(mounts.filter((m) => m.name === "session-state")).toEqual([{ name: "session-state", mountPath: SESSION_STATE_PATH }]);
            expect(mounts.map((m) => m.mountPath)).toEqual(["/home/copilot/.copilot", SESSION_STATE_PATH, "/tmp"]);
        }
        const share = inputsOf(rec.one("azure-native:storage:FileShare", "copilot-storage-session-state"));
        expect(share).toMatchObject({ accountName: account, shareName: "session-state", shareQuota: 10, enabledProtocols: "SMB" });
    });

    it("runs the server spec under tini with secure env for every secret, exec probes, spec resources, restart Always", async () => {
        await run(base);
        const token = await tokenOutput();
        for (const g of serverGroups()) {
            const i = inputsOf(g);
            expect(i).toMatchObject({ osType: "Linux", sku: "Standard", restartPolicy: "Always", ipAddress: { type: "Private", ports: [{ port: 4321, protocol: "TCP" }] } });
            const c = i.containers[0];
            expect(c.command).toEqual(["/usr/bin/tini", "--", "copilot-fleet-server", "copilot", "--headless", "--host", "0.0.0.0", "--port", "4321", "--no-auto-update"]);
            expect(envOf(g)).toEqual([
                { name: "COPILOT_HOME", value: "/home/copilot/.copilot" },
                { name: "HOME", value: "/home/copilot" },
                { name: "COPILOT_CONNECTION_TOKEN", secureValue: token },
                { name: "COPILOT_GITHUB_TOKEN", secureValue: "gho_service_token" },
            ]);
            for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.exec).toEqual({ command: [HEALTHCHECK_PATH] });
            expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(120);
            // Spec limits 2 CPU / 2Gi: ACI requests must cover the limit; 2Gi = 2.147 GB rounds up to 2.2.
            expect(c.resources).toEqual({ requests: { cpu: 2, memoryInGB: 2.2 }, limits: { cpu: 2, memoryInGB: 2.2 } });
        }
    });

    it("pulls the pushed image by managed identity: AcrPull on the registry, admin user off, no registry password anywhere", async () => {
        await run(base);
        const registry = rec.one("azure-native:containerregistry:Registry", "copilot-registry-acr");
        expect(inputsOf(registry)).toMatchObject({ adminUserEnabled: false, sku: { name: "Basic" } });
        const loginServer = stateOf(registry).loginServer as string;
        expect(loginServer).toMatch(/^copilot[0-9a-f]{13}\.azurecr\.io$/);
        const identity = rec.one("azure-native:managedidentity:UserAssignedIdentity", "copilot-registry-pull");
        const identityId = `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/mock-rg/providers/azure-native:managedidentity:UserAssignedIdentity/copilot-registry-pull`;
        const role = inputsOf(rec.one("azure-native:authorization:RoleAssignment", "copilot-registry-acrpull"));
        expect(role).toMatchObject({
            principalId: stateOf(identity).principalId,
            principalType: "ServicePrincipal",
            roleDefinitionId: `/subscriptions/${MOCK_SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
        });
        expect(role.scope).toMatch(/containerregistry:Registry\/copilot-registry-acr$/);
        const image = inputsOf(rec.one("docker:index/image:Image", "copilot-image"));
        expect(image).toMatchObject({ imageName: `${loginServer}/copilot-cli:1.0.102-linux-amd64`, skipPush: false, registry: { server: loginServer } });
        for (const g of serverGroups()) {
            const i = inputsOf(g);
            expect(i.containers[0].image).toBe(`${loginServer}/copilot-cli@${MOCK_IMAGE_DIGEST}`);
            expect(i.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: [identityId] });
            expect(i.imageRegistryCredentials).toEqual([{ server: loginServer, identity: identityId }]);
        }
        const everything = rec.resources.filter((r) => r.type.startsWith("azure-native:") || r.type.startsWith("docker:"));
        expect(everything.flatMap((r) => credentialKeys(r.inputs).map((k) => `${r.name}${k}`))).toEqual([]);
    });

    it("puts HAProxy in the edge subnet, balancing the three replica IPs with the JSON-RPC check; its config is a secret file", async () => {
        await run(base);
        const lb = inputsOf(rec.one(GROUP, "copilot-lb"));
        expect(lb.containers[0]).toMatchObject({ name: "haproxy", image: HAPROXY_IMAGE, command: ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"] });
        expect(lb.subnetIds).toEqual([{ id: expect.stringMatching(/virtualNetworks\/copilot-net-vnet\/subnets\/edge$/) }]);
        for (const g of serverGroups()) expect(inputsOf(g).subnetIds).toEqual([{ id: expect.stringMatching(/virtualNetworks\/copilot-net-vnet\/subnets\/servers$/) }]);
        const cfg = decode(lb.volumes[0].secret["haproxy.cfg"] as string);
        const ips = serverGroups().map((g) => (stateOf(g).ipAddress as Obj).ip as string);
        expect(new Set(ips).size).toBe(3);
        for (const [i, ip] of ips.entries()) expect(cfg).toContain(`server copilot-${i + 1} ${ip}:4321 check`);
        expect(cfg).toContain("tcp-check expect string pong");
        // Prometheus /metrics on 8404, exposed on the group's private IP beside the client port.
        expect(cfg).toContain("    bind *:8404");
        expect(lb.ipAddress.ports).toEqual([
            { port: 4321, protocol: "TCP" },
            { port: 8404, protocol: "TCP" },
        ]);
        expect(cfg).toContain(Buffer.from(await tokenOutput()).toString("hex"));
        // Only the config file carries the token; HAProxy's container spec does not.
        expect(JSON.stringify(lb.containers[0])).not.toContain(await tokenOutput());
    });

    it("runs session cleanup (loop mode) beside HAProxy: through the balancer on localhost, on the fleet's share, token secure", async () => {
        await run({ ...base, sessionTtlHours: "48", sessionCleanupIntervalMinutes: "15" });
        const lb = inputsOf(rec.one(GROUP, "copilot-lb"));
        const replica = inputsOf(rec.one(GROUP, "copilot-1"));
        expect(lb.containers.map((c: Obj) => c.name)).toEqual(["haproxy", "session-cleanup"]);
        const c = lb.containers[1];
        expect(c.image).toBe(replica.containers[0].image);
        expect(c.command).toEqual([
            "/usr/bin/tini", "--", "/usr/local/bin/copilot-session-cleanup", "--endpoint", "127.0.0.1:4321", "--ttl-hours", "48",
            "--state-dir", SESSION_STATE_PATH, "--timeout-ms", "30000", "--interval", "900",
        ]);
        // Probes: the in-image health check against the same endpoint (can it reach and authenticate to a server).
        for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.exec).toEqual({ command: [HEALTHCHECK_PATH, "--host", "127.0.0.1", "--port", "4321"] });
        expect(c.environmentVariables).toContainEqual({ name: "COPILOT_CONNECTION_TOKEN", secureValue: await tokenOutput() });
        expect(c.volumeMounts).toEqual([{ name: "session-state", mountPath: SESSION_STATE_PATH }]);
        expect(lb.volumes.find((v: Obj) => v.name === "session-state")).toEqual(replica.volumes[0]);
        // It runs the fleet's image from the stack's registry, so the group pulls by identity too.
        expect(lb.imageRegistryCredentials).toEqual(replica.imageRegistryCredentials);
        // 10m/16Mi requested (rounded up to ACI's 0.1 steps), 200m/64Mi limit within the group's total.
        expect(c.resources).toEqual({ requests: { cpu: 0.1, memoryInGB: 0.1 }, limits: { cpu: 0.2, memoryInGB: 0.1 } });
    });

    it("runs Redis inside the network with its password only in a secret file and a secure env", async () => {
        const { resolved } = await run(base);
        const redis = inputsOf(rec.one(GROUP, "copilot-redis"));
        expect(redis.ipAddress.type).toBe("Private");
        const c = redis.containers[0];
        expect(c).toMatchObject({ image: REDIS_IMAGE, command: ["docker-entrypoint.sh", "redis-server", "/usr/local/etc/redis/redis.conf"] });
        const conf = decode(redis.volumes[0].secret["redis.conf"] as string);
        const password = /^requirepass (\S+)$/m.exec(conf)?.[1] ?? "";
        expect(password.length).toBe(40);
        expect(c.environmentVariables).toEqual([{ name: "REDISCLI_AUTH", secureValue: password }]);
        const ip = (stateOf(rec.one(GROUP, "copilot-redis")).ipAddress as Obj).ip as string;
        expect(resolved.redisUrl).toBe(`redis://:${password}@${ip}:6379`);
    });

    it("outputs the smoke suite's contract, tokens and Redis URL as secrets", async () => {
        const { outputs, resolved } = await run(base);
        const ip = (g: string) => (stateOf(rec.one(GROUP, g)).ipAddress as Obj).ip as string;
        expect(resolved).toMatchObject({
            platform: "aci",
            mode: "shared",
            endpoint: `${ip("copilot-lb")}:4321`,
            sessionStatePath: SESSION_STATE_PATH,
            replicas: [1, 2, 3].map((n) => ({ name: `copilot-${n}`, endpoint: `${ip(`copilot-${n}`)}:4321` })),
        });
        expect(ip("copilot-1").startsWith(MOCK_ACI_SUBNET_PREFIX)).toBe(true);
        expect(await pulumiMod.isSecret(outputs.connectionToken as pulumi.Output<string>)).toBe(true);
        expect(await pulumiMod.isSecret(outputs.redisUrl as pulumi.Output<string>)).toBe(true);
        expect(resolved.connectionToken).toBe(await tokenOutput());
    });

    it("hardens the storage account and gives every globally unique name Azure's shape", async () => {
        await run(base);
        const account = inputsOf(rec.one("azure-native:storage:StorageAccount", "copilot-storage-account"));
        expect(account).toMatchObject({ enableHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2", allowBlobPublicAccess: false, allowSharedKeyAccess: true });
        expect(account.accountName).toMatch(/^[a-z0-9]{3,24}$/);
        expect(inputsOf(rec.one("azure-native:containerregistry:Registry", "copilot-registry-acr")).registryName).toMatch(/^[a-z0-9]{5,50}$/);
        expect(inputsOf(rec.one("azure-native:resources:ResourceGroup", "copilot-rg")).resourceGroupName).toBe("copilot-fleet-test");
    });

    it("with a prebuilt image and an existing resource group: no registry, no identity, no resource group", async () => {
        await run({ ...base, image: "ghcr.io/example/copilot-cli:1.0.102", resourceGroupName: "platform-rg", location: "westeurope" });
        const types = rec.resources.map((r) => r.type);
        for (const t of ["azure-native:containerregistry:Registry", "azure-native:managedidentity:UserAssignedIdentity", "azure-native:resources:ResourceGroup", "docker:index/image:Image"]) {
            expect(types).not.toContain(t);
        }
        for (const g of serverGroups()) {
            expect(inputsOf(g)).toMatchObject({ resourceGroupName: "platform-rg", location: "westeurope" });
            expect(inputsOf(g).containers[0].image).toBe("ghcr.io/example/copilot-cli:1.0.102");
            expect(inputsOf(g).imageRegistryCredentials).toBeUndefined();
        }
    });

    it("BYOK: the servers hold only the connection token; without Redis there is no Redis group or URL", async () => {
        const { resolved } = await run({ platform: "aci", replicas: "2", redis: "false", provider: JSON.stringify({ baseUrl: "https://m.example.com/v1", model: "gpt-4.1", apiKey: "sk-secret" }) });
        expect(serverGroups()).toHaveLength(2);
        for (const g of serverGroups()) expect(envOf(g).map((e) => e.name)).toEqual(["COPILOT_HOME", "HOME", "COPILOT_CONNECTION_TOKEN"]);
        expect(groups().map((g) => g.name)).not.toContain("copilot-redis");
        expect(resolved.redisUrl).toBeUndefined();
        for (const r of rec.resources) expect(JSON.stringify(r.inputs)).not.toContain("sk-secret");
    });
});

describe("aci per-user fleet", () => {
    const users = ["alice", "bob", "carol"];
    const base: RawConfig = { platform: "aci", mode: "per-user", users: JSON.stringify(users), githubToken: "gho_service_token", image: "ghcr.io/example/copilot-cli:1.0.102" };

    it("gives each user a group, a share and a token of their own; no load balancer, no Redis", async () => {
        const { outputs, resolved } = await run(base);
        expect(serverGroups().map((g) => g.name).sort()).toEqual(["copilot-u-alice", "copilot-u-bob", "copilot-u-carol"]);
        expect(groups()).toHaveLength(3);
        expect(rec.ofType("azure-native:storage:FileShare").map((s) => inputsOf(s).shareName).sort()).toEqual(["u-alice", "u-bob", "u-carol"]);
        const out = resolved.users as Record<string, { endpoint: string; connectionToken: string }>;
        const tokens = new Set<string>();
        for (const id of users) {
            const g = rec.one(GROUP, `copilot-u-${id}`);
            expect(inputsOf(g).tags["copilot-fleet.github.com.user"]).toBe(id);
            expect(inputsOf(g).volumes[0].azureFile.shareName).toBe(`u-${id}`);
            const token = envOf(g).find((e) => e.name === "COPILOT_CONNECTION_TOKEN");
            expect(token?.value).toBeUndefined();
            expect(out[id]).toEqual({ endpoint: `${(stateOf(g).ipAddress as Obj).ip as string}:4321`, connectionToken: token?.secureValue, suspended: false });
            tokens.add(token?.secureValue as string);
        }
        expect(tokens.size).toBe(3);
        // Each user's cleanup sidecar dials that user's server on localhost with that user's token and share.
        for (const id of users) {
            const i = inputsOf(rec.one(GROUP, `copilot-u-${id}`));
            const cleanup = (i.containers as Obj[]).find((c) => c.name === "session-cleanup") as Obj;
            expect(cleanup.command).toContain("127.0.0.1:4321");
            expect(cleanup.environmentVariables).toContainEqual({ name: "COPILOT_CONNECTION_TOKEN", secureValue: out[id].connectionToken });
            expect(cleanup.volumeMounts).toEqual([{ name: "session-state", mountPath: SESSION_STATE_PATH }]);
        }
        expect(await pulumiMod.isSecret(outputs.users as pulumi.Output<unknown>)).toBe(true);
        // Only the server subnet exists in per-user mode; it denies server-to-server traffic first.
        const nsg = inputsOf(rec.one("azure-native:network:NetworkSecurityGroup", "copilot-net-servers-nsg"));
        expect(nsg.securityRules[0]).toMatchObject({ name: "deny-server-to-server", access: "Deny", sourceAddressPrefix: "10.42.0.0/18", priority: 100 });
        expect(rec.ofType("azure-native:network:Subnet").map((s) => s.name)).toEqual(["copilot-net-servers"]);
    });

    it("no token, key or password reaches any container as a plain value", async () => {
        await run({ ...base, users: JSON.stringify(["alice", { id: "bob", githubToken: "gho_bob_own" }]) });
        const sensitive = /TOKEN|KEY|PASSWORD|SECRET|AUTH/i;
        for (const g of groups()) {
            for (const c of inputsOf(g).containers as Obj[]) {
                for (const e of (c.environmentVariables ?? []) as Obj[]) {
                    if (sensitive.test(e.name as string)) expect(e).toEqual({ name: e.name, secureValue: expect.any(String) });
                }
            }
        }
        const bob = envOf(rec.one(GROUP, "copilot-u-bob")).find((e) => e.name === "COPILOT_GITHUB_TOKEN");
        expect(bob?.secureValue).toBe("gho_bob_own");
    });

    it("a suspended user keeps share and token but has no group", async () => {
        const { resolved } = await run({ ...base, users: JSON.stringify(["alice", { id: "bob", suspended: true }]) });
        expect(serverGroups().map((g) => g.name)).toEqual(["copilot-u-alice"]);
        expect(rec.ofType("azure-native:storage:FileShare").map((s) => inputsOf(s).shareName).sort()).toEqual(["u-alice", "u-bob"]);
        const bob = (resolved.users as Record<string, { endpoint: string; suspended: boolean; connectionToken: string }>).bob;
        expect(bob).toMatchObject({ endpoint: "", suspended: true });
        expect(bob.connectionToken.length).toBeGreaterThan(0);
    });

    it("names stay valid and distinct for the longest and oddest ids the parser accepts", async () => {
        const long = "a".repeat(40);
        const odd = ["a--b", "a-b", long, `${"z".repeat(39)}9`, "0", "x-y--z"];
        await run({ ...base, users: JSON.stringify(odd) });
        const groupNames = serverGroups().map((g) => inputsOf(g).containerGroupName as string);
        const shareNames = rec.ofType("azure-native:storage:FileShare").map((s) => inputsOf(s).shareName as string);
        expect(new Set(groupNames).size).toBe(odd.length);
        expect(new Set(shareNames).size).toBe(odd.length);
        for (const n of groupNames) expect(n).toMatch(/^(?=.{1,63}$)[a-z0-9]+(-[a-z0-9]+)*$/);
        for (const n of shareNames) expect(n).toMatch(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(groupNames).toContain(`copilot-u-${long}`);
        expect(groupNames).toContain("copilot-u-a-b");
        expect(groupNames.find((n) => n.startsWith("copilot-u-a-b-"))).toMatch(/^copilot-u-a-b-[0-9a-f]{6}$/);
    });
});

describe("aci tags", () => {
    // ARM refuses a tag name with <, >, %, &, \\, ? or / (InvalidTagNameCharacters): a real deploy would fail on the first resource.
    it.each([
        ["shared, image built", { platform: "aci", githubToken: "gho_service_token", replicas: "2" }],
        ["per-user, prebuilt image", { platform: "aci", mode: "per-user", githubToken: "gho_service_token", users: '["alice","bob"]', image: "ghcr.io/example/copilot-cli:1.0.102", exposure: "internal", allowedCidrs: '["10.9.0.0/24"]' }],
    ] as Array<[string, RawConfig]>)("%s: every tag name is one Azure accepts, and the label vocabulary is there with . for /", async (_, raw) => {
        await run(raw);
        const tagged = rec.resources.filter((r) => inputsOf(r).tags !== undefined);
        expect(tagged.length).toBeGreaterThanOrEqual(3);
        const refused = tagged.flatMap((r) => Object.keys(inputsOf(r).tags as Record<string, string>).filter((k) => AZURE_TAG_NAME_FORBIDDEN.test(k)).map((k) => `${r.name}: ${k}`));
        expect(refused).toEqual([]);
        for (const g of groups()) expect(inputsOf(g).tags["app.kubernetes.io.part-of"], g.name).toBe("copilot-fleet");
    });
});

async function run(raw: RawConfig) {
    return deployUnderMocks(raw);
}

async function tokenOutput(): Promise<string> {
    const r = rec.resources.find((x) => x.type === "random:index/randomPassword:RandomPassword" && x.name.endsWith("connection-token"));
    return ((r?.state ?? {}) as Obj).result as string;
}
