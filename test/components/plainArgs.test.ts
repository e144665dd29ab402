/**
 * The ACI and Docker fleets as a library consumer uses them: plain arguments, each optional one
 * with its documented default, and every mistake refused before anything is registered with a
 * message that names the argument, the value and what is accepted: the stack config's own message.
 */
import type * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { installMocks, MockRecorder, promiseOf, RecordedResource, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, unknown>;
let rec: MockRecorder;
let pulumiMod: typeof pulumi;
let docker: typeof import("../../components/docker");
let aci: typeof import("../../components/aci");
let config: typeof import("../../components/config");

beforeAll(async () => {
    rec = installMocks();
    pulumiMod = await import("@pulumi/pulumi");
    docker = await import("../../components/docker");
    aci = await import("../../components/aci");
    config = await import("../../components/config");
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const envOf = (c: RecordedResource): string[] => (c.inputs.envs as string[]).map((e) => e.slice(0, e.indexOf("=")));
const SHARE = { storageAccountName: "acct", shareName: "session-state", storageAccountKey: "key==" };
const PLACEMENT = { resourceGroupName: "rg", serverSubnetId: "/subscriptions/s/servers" };

/** The message the stack config gives for `raw` (one problem expected), without its "key: " prefix. */
function configMessage(raw: Record<string, string>): string {
    try {
        config.parseFleetConfig({ platform: "docker", githubToken: "gho_x", ...raw });
    } catch (e) {
        const issues = (e as InstanceType<typeof config.ConfigError>).issues;
        expect(issues).toHaveLength(1);
        return issues[0].message;
    }
    throw new Error(`the config accepted ${JSON.stringify(raw)}`);
}

/** The InputPropertiesError a component constructor throws. */
function thrown(build: () => unknown): { message: string; errors: { propertyPath: string; reason: string }[] } {
    try {
        build();
    } catch (e) {
        expect(e).toBeInstanceOf(pulumiMod.InputPropertiesError);
        return e as { message: string; errors: { propertyPath: string; reason: string }[] };
    }
    throw new Error("the component accepted its arguments");
}

describe("DockerSharedFleet with plain arguments", () => {
    it("applies the documented defaults from an image alone", async () => {
        const fleet = new docker.DockerSharedFleet("dev", { image: IMAGE });
        await promiseOf(fleet.endpoint);
        await settle();
        const servers = rec.ofType("docker:index/container:Container").filter((c) => /^dev-\d+$/.test(c.name));
        expect(servers.map((c) => c.name).sort()).toEqual(["dev-1", "dev-2", "dev-3"]);
        // No githubToken: the servers hold no model credential.
        for (const s of servers) expect(envOf(s)).not.toContain("COPILOT_GITHUB_TOKEN");
        expect(rec.one("docker:index/container:Container", "dev-redis")).toBeDefined();
        expect(rec.resources.some((r) => r.name.includes("session-cleanup"))).toBe(false);
        expect(rec.one("docker:index/volume:Volume", "dev-session-state").opts.protect).toBe(false);
        const labels = rec.one("docker:index/container:Container", "dev-1").inputs.labels as { label: string; value: string }[];
        expect(labels).toContainEqual({ label: "app.kubernetes.io/version", value: config.DEFAULT_CLI_VERSION });
        expect(await promiseOf(fleet.connectionToken)).toMatch(/^mock-dev-connection-token-/);
    });

    it("takes replicas, a GitHub token, the connection token, redis, cleanup and protection", async () => {
        const fleet = new docker.DockerSharedFleet("dev", {
            image: IMAGE,
            replicas: 2,
            githubToken: pulumiMod.secret("gho_service"),
            connectionToken: "t".repeat(32),
            redis: false,
            sessionCleanup: { ttlHours: 12, intervalMinutes: 15 },
            protectSessionState: true,
        });
        expect(await promiseOf(fleet.connectionToken)).toBe("t".repeat(32));
        await settle();
        expect(rec.ofType("docker:index/container:Container").map((c) => c.name).sort()).toEqual(["dev-1", "dev-2", "dev-lb", "dev-session-cleanup"]);
        expect(envOf(rec.one("docker:index/container:Container", "dev-1"))).toContain("COPILOT_GITHUB_TOKEN");
        expect(rec.one("docker:index/container:Container", "dev-session-cleanup").inputs.command).toEqual(expect.arrayContaining(["--ttl-hours", "12"]));
        expect(rec.one("docker:index/volume:Volume", "dev-session-state").opts.protect).toBe(true);
    });

    it("refuses bad arguments before registering anything, each with the config's own message", () => {
        const e = thrown(() => new docker.DockerSharedFleet("dev", { image: "copilot-cli:latest", replicas: 0, cliVersion: "latest", sessionCleanup: { ttlHours: 0, intervalMinutes: 7 } }));
        expect(e.errors.map((x) => x.propertyPath)).toEqual(["cliVersion", "image", "replicas", "sessionCleanup.ttlHours", "sessionCleanup.intervalMinutes"]);
        expect(e.message).toContain('DockerSharedFleet "dev": invalid arguments (5 problems)');
        // Same rule, same words as the stack config (the value is shown as the consumer passed it).
        expect(`cliVersion: ${e.errors[0].reason}`).toBe(configMessage({ cliVersion: "latest" }));
        expect(`image: ${e.errors[1].reason}`).toBe(configMessage({ image: "copilot-cli:latest" }));
        expect(e.errors[2].reason).toBe("0 is not accepted; use an integer from 1 to 50");
        expect(configMessage({ replicas: "0" })).toBe('replicas: "0" is not accepted; use an integer from 1 to 50');
        expect(e.errors[4].reason).toBe(configMessage({ sessionCleanupIntervalMinutes: "7" }).replace('sessionCleanupIntervalMinutes: "7"', "7"));
        expect(rec.resources).toHaveLength(0);
    });

    it("never shows a connection token it refuses", () => {
        const e = thrown(() => new docker.DockerSharedFleet("dev", { image: IMAGE, connectionToken: "short secret" }));
        expect(e.errors).toEqual([{ propertyPath: "connectionToken", reason: "is shorter than 16 characters; use a long random value (or unset it and one is generated)" }]);
        expect(e.message).not.toContain("short secret");
    });
});

describe("DockerPerUserFleet with plain arguments", () => {
    it("gives each user a server; a user's own token overrides the fleet's; suspended users are stopped", async () => {
        const fleet = new docker.DockerPerUserFleet("dev", {
            image: IMAGE,
            githubToken: pulumiMod.secret("gho_service"),
            users: [{ id: "alice", githubToken: pulumiMod.secret("gho_alice") }, { id: "bob", suspended: true }],
        });
        const users = await promiseOf(fleet.users);
        await settle();
        expect(Object.keys(users ?? {}).sort()).toEqual(["alice", "bob"]);
        const alice = rec.one("docker:index/container:Container", "dev-u-alice");
        const bob = rec.one("docker:index/container:Container", "dev-u-bob");
        expect(alice.inputs.envs as string[]).toContain("COPILOT_GITHUB_TOKEN=gho_alice");
        expect(bob.inputs.envs as string[]).toContain("COPILOT_GITHUB_TOKEN=gho_service");
        expect([alice.inputs.mustRun, bob.inputs.mustRun]).toEqual([true, false]);
    });

    it("refuses bad and duplicate user ids, naming each", () => {
        const e = thrown(() => new docker.DockerPerUserFleet("dev", { image: IMAGE, users: [{ id: "Bob_1" }, { id: "carol" }, { id: "carol" }] }));
        expect(e.errors.map((x) => x.reason)).toEqual([
            'users[0].id "Bob_1" is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters',
            'user id "carol" appears more than once; each user id must be unique',
        ]);
        expect(thrown(() => new docker.DockerPerUserFleet("dev", { image: IMAGE, users: [] })).errors[0].propertyPath).toBe("users");
        expect(rec.resources).toHaveLength(0);
    });

    it("refuses an idle-suspend window outside 5–10080 minutes with the config's own bounds", () => {
        const e = thrown(() => new docker.DockerPerUserFleet("dev", { image: IMAGE, users: [{ id: "alice" }], idleSuspendMinutes: 2 }));
        expect(e.errors.map((x) => x.propertyPath)).toEqual(["idleSuspendMinutes"]);
        expect(e.errors[0].reason).toMatch(/2.*5.*10080/);
        expect(rec.resources).toHaveLength(0);
    });
});

describe("ACI fleets with plain arguments", () => {
    it("AciSharedFleet: defaults from placement, share and image; no pull identity for a public image", async () => {
        const fleet = new aci.AciSharedFleet("acme", { ...PLACEMENT, edgeSubnetId: "/subscriptions/s/edge", share: SHARE, image: IMAGE });
        await promiseOf(fleet.endpoint);
        await settle();
        const groups = rec.ofType("azure-native:containerinstance:ContainerGroup");
        expect(groups.map((g) => g.name).sort()).toEqual(["acme-1", "acme-2", "acme-3", "acme-lb", "acme-redis"]);
        for (const g of groups) expect(g.inputs.identity).toBeUndefined();
        const server = rec.one("azure-native:containerinstance:ContainerGroup", "acme-1").inputs;
        expect((server.subnetIds as Obj[])[0].id).toBe(PLACEMENT.serverSubnetId);
        expect((server.tags as Record<string, string>)["app.kubernetes.io.version"]).toBe(config.DEFAULT_CLI_VERSION);
        const env = ((server.containers as Obj[])[0].environmentVariables as Obj[]).map((v) => v.name);
        expect(env).not.toContain("COPILOT_GITHUB_TOKEN");
        expect((rec.one("azure-native:containerinstance:ContainerGroup", "acme-lb").inputs.subnetIds as Obj[])[0].id).toBe("/subscriptions/s/edge");
    });

    it("AciPerUserFleet: one group per active user; a user without a share is refused by name", async () => {
        const fleet = new aci.AciPerUserFleet("acme", { ...PLACEMENT, image: IMAGE, users: [{ id: "alice" }, { id: "bob", suspended: true }], shares: { alice: SHARE, bob: SHARE } });
        expect(Object.keys((await promiseOf(fleet.users)) ?? {}).sort()).toEqual(["alice", "bob"]);
        await settle();
        expect(rec.ofType("azure-native:containerinstance:ContainerGroup").map((g) => g.name)).toEqual(["acme-u-alice"]);
        rec.clear();
        const e = thrown(() => new aci.AciPerUserFleet("acme", { ...PLACEMENT, image: IMAGE, users: [{ id: "alice" }, { id: "bob" }], shares: { alice: SHARE } }));
        expect(e.errors).toEqual([{ propertyPath: "shares", reason: 'has no share for user "bob"; give every user id in users a share' }]);
        expect(rec.resources).toHaveLength(0);
    });

    it("AciNetwork refuses public exposure and a bad address space with the config's ACI messages", () => {
        const e = thrown(() => new aci.AciNetwork("acme-net", { resourceGroupName: "rg", exposure: "public", allowedCidrs: ["203.0.113.0/24"], vnetAddressSpace: "10.42.0.1/16" }));
        expect(e.errors.map((x) => x.propertyPath)).toEqual(["exposure", "vnetAddressSpace"]);
        let configIssues: readonly { key: string; message: string }[] = [];
        try {
            config.parseFleetConfig({ platform: "aci", githubToken: "gho_x", exposure: "public", allowedCidrs: '["203.0.113.0/24"]', vnetAddressSpace: "10.42.0.1/16" });
        } catch (err) {
            configIssues = (err as InstanceType<typeof config.ConfigError>).issues;
        }
        expect(e.errors.map((x) => `${x.propertyPath}: ${x.reason}`)).toEqual(configIssues.map((i) => i.message));
    });

    it("AciStorage refuses a share above the Azure Files quota", () => {
        const e = thrown(() => new aci.AciStorage("acme-storage", { resourceGroupName: "rg", accountName: "acct", shares: { fleet: aci.SHARED_SHARE_NAME }, storageSize: "6Ti" }));
        expect(e.errors).toEqual([{ propertyPath: "storageSize", reason: '"6Ti" is 6144 GiB; an Azure Files share holds at most 5120 GiB on platform "aci"' }]);
    });
});
