import { readFileSync } from "fs";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import type { RawConfig } from "../../../components/config";
import { dockerCpus, goDuration } from "../../../components/docker/render";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MOCK_FIRST_PORT, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
let pulumiMod: typeof pulumi;
let haproxyConfig: typeof import("../../../components/contract/haproxy").haproxyConfig;

beforeAll(async () => {
    rec = installMocks();
    ({ haproxyConfig } = await import("../../../components/contract/haproxy"));
    pulumiMod = await import("@pulumi/pulumi");
});
beforeEach(() => rec.clear());

const run = deployUnderMocks;

const inputsOf = (r: RecordedResource) => r.inputs as Obj;
/** Published host port the (mocked) engine assigned. */
const hostPort = (r: RecordedResource) => ((r.state as Obj).ports as Obj[])[0].external as number;
const env = (c: RecordedResource) => Object.fromEntries((inputsOf(c).envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

/** The dev stack's config (Pulumi.dev.yaml) plus a model credential, as `pulumi up` would see it. */
function devStackConfig(): RawConfig {
    const doc = parseYaml(readFileSync("Pulumi.dev.yaml", "utf8")) as { config: Record<string, string> };
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config)) raw[k.replace(/^copilot-fleet:/, "")] = String(v);
    return { ...raw, githubToken: "gho_dev_token" } as RawConfig;
}

describe("docker platform: the dev stack", () => {
    it("Pulumi.dev.yaml selects docker", () => {
        expect(devStackConfig().platform).toBe("docker");
    });

    it("registers the image build, replicas, shared volume, Redis and the load balancer", async () => {
        const raw = { ...devStackConfig(), cliVersion: "1.0.99" };
        await run(raw);
        const set = rec.resources.map((r) => `${r.type} ${r.name}`).sort();
        expect(set).toEqual(
            [
                "copilot-fleet:index:DockerRedis copilot-redis",
                "copilot-fleet:index:DockerSessionCleanup copilot-session-cleanup",
                "copilot-fleet:index:DockerSharedFleet copilot",
                "copilot-fleet:index:CopilotImage copilot-image",
                "docker:index/container:Container copilot-1",
                "docker:index/container:Container copilot-2",
                "docker:index/container:Container copilot-lb",
                "docker:index/container:Container copilot-redis",
                "docker:index/container:Container copilot-session-cleanup",
                "docker:index/image:Image copilot-image",
                "docker:index/network:Network copilot-net",
                "docker:index/network:Network copilot-redis-net",
                "docker:index/remoteImage:RemoteImage copilot-lb-image",
                "docker:index/remoteImage:RemoteImage copilot-redis-image",
                "docker:index/remoteImage:RemoteImage copilot-server-image",
                "docker:index/volume:Volume copilot-session-state",
                "random:index/randomPassword:RandomPassword copilot-connection-token",
                "random:index/randomPassword:RandomPassword copilot-redis-password",
            ].sort(),
        );
        const image = inputsOf(rec.one("docker:index/image:Image", "copilot-image"));
        expect(image).toMatchObject({ imageName: "copilot-cli:1.0.99-linux-amd64", skipPush: true, build: { args: { COPILOT_VERSION: "1.0.99" }, platform: "linux/amd64" } });
        expect(image.build.context).toMatch(/images\/copilot-cli$/);
        // The containers run the built image by ID (a tag reads back in each engine's own spelling).
        const server = rec.one("docker:index/remoteImage:RemoteImage", "copilot-server-image");
        expect(inputsOf(server)).toMatchObject({ name: "copilot-cli:1.0.99-linux-amd64", keepLocally: true });
        for (const n of ["copilot-1", "copilot-2", "copilot-session-cleanup"]) expect(inputsOf(rec.one("docker:index/container:Container", n)).image).toBe(server.state.imageId);
    });
    it("builds from imageBaseImage and imageReleaseBaseUrl when set (a registry mirror, an air-gapped release mirror)", async () => {
        const raw = { ...devStackConfig(), cliVersion: "1.0.99", imageBaseImage: "mirror.example.com/debian:12.12-slim", imageReleaseBaseUrl: "https://mirror.example.com/copilot/v1.0.99" };
        await run(raw);
        const image = inputsOf(rec.one("docker:index/image:Image", "copilot-image"));
        expect(image.build.args).toEqual({ COPILOT_VERSION: "1.0.99", BASE_IMAGE: "mirror.example.com/debian:12.12-slim", RELEASE_BASE_URL: "https://mirror.example.com/copilot/v1.0.99" });
    });
    it.each([
        [0.25, "0.25"],
        [1, "1.0"],
        [2, "2.0"],
        [1.5, "1.5"],
        [0.001, "0.001"],
    ])("cpus %s is spelled %s, as the provider reads it back", (cores, text) => {
        expect(dockerCpus(cores)).toBe(text);
    });

    it.each([
        [0, "0s"],
        [5, "5s"],
        [60, "1m0s"],
        [120, "2m0s"],
        [90, "1m30s"],
        [3600, "1h0m0s"],
        [3725, "1h2m5s"],
    ])("%s seconds is spelled %s, as the provider reads a health-check duration back", (s, text) => {
        expect(goDuration(s)).toBe(text);
    });

    it("asks for nothing beyond Engine API 1.41 (podman's Docker API, Docker 20.10+): no health-check startInterval", async () => {
        // A real `pulumi up` on podman failed with "specify health-check start interval requires API version 1.44".
        await run({ ...devStackConfig(), users: undefined, image: "copilot-cli:1.0.102" } as RawConfig);
        const containers = rec.resources.filter((r) => r.type === "docker:index/container:Container");
        expect(containers.length).toBeGreaterThanOrEqual(4);
        for (const c of containers) {
            const hc = (inputsOf(c) as { healthcheck?: Record<string, unknown> }).healthcheck;
            expect(hc, c.name).toBeDefined();
            expect(Object.keys(hc ?? {}), c.name).not.toContain("startInterval");
        }
    });
    it.each([
        ["shared", {}],
        ["per-user", { mode: "per-user", users: '["alice","bob"]', replicas: undefined }],
    ])("%s: a network ignores what the engine reports about IPAM, so an up does not replace it and every container on it", async (_mode, extra) => {
        // Podman reports ipamOptions { driver: "host-local" } where nothing was set; a real up then replaced everything, every time.
        await run({ ...devStackConfig(), image: "copilot-cli:1.0.102", ...extra } as RawConfig);
        const networks = rec.resources.filter((r) => r.type === "docker:index/network:Network");
        expect(networks.length).toBeGreaterThanOrEqual(2);
        for (const n of networks) expect(n.opts.ignoreChanges, n.name).toEqual(expect.arrayContaining(["ipamOptions", "ipamDriver", "ipamConfigs"]));
    });
    it("a CLI upgrade changes the image and the server containers only: Redis, the balancer, networks and the volume stay as they are", async () => {
        // A real up from 1.0.92 to 1.0.102 replaced the Redis network, Redis (its locks) and everything on the fleet network: version labels.
        const snapshot = async (cliVersion: string) => {
            rec.clear();
            await run({ ...devStackConfig(), cliVersion });
            return new Map(rec.resources.map((r) => [`${r.type} ${r.name}`, JSON.stringify(r.inputs)]));
        };
        const before = await snapshot("1.0.92");
        const after = await snapshot("1.0.102");
        expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
        const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort();
        expect(changed).toEqual(
            [
                "docker:index/image:Image copilot-image",
                "docker:index/remoteImage:RemoteImage copilot-server-image",
                "docker:index/container:Container copilot-1",
                "docker:index/container:Container copilot-2",
                "docker:index/container:Container copilot-session-cleanup",
            ].sort(),
        );
    });
});

describe("docker shared fleet", () => {
    const base: RawConfig = { platform: "docker", githubToken: "gho_service", replicas: "3", image: "copilot-cli:1.0.102" };

    it("runs each replica from the CLI server spec, on the shared volume at the session-state path only", async () => {
        await run(base);
        for (const n of ["copilot-1", "copilot-2", "copilot-3"]) {
            const c = inputsOf(rec.one("docker:index/container:Container", n));
            expect(c.command).toEqual(["copilot-fleet-server", "copilot", "--headless", "--host", "0.0.0.0", "--port", "4321", "--no-auto-update"]);
            expect(c.entrypoints).toBeUndefined();
            expect(c.mounts).toEqual([{ type: "volume", source: "copilot-session-state", target: "/home/copilot/.copilot/session-state" }]);
            expect(c.user).toBe("10001:10001");
            expect(c.capabilities).toEqual({ drops: ["ALL"] });
            expect(c.securityOpts).toEqual(["no-new-privileges:true"]);
            expect(c.ports).toEqual([{ internal: 4321, ip: "127.0.0.1" }]);
            expect(c.healthcheck).toMatchObject({ tests: ["CMD", "/usr/local/bin/copilot-healthcheck"], interval: "5s", retries: 2 });
            expect(c.memory).toBe(2048);
            // As the provider reads them back: anything else is a change (and a replacement) at every up.
            expect(c.memorySwap).toBe(2048);
            expect(c.cpus).toBe("2.0");
            expect(c.networksAdvanced).toEqual([{ name: "copilot-net", aliases: [n] }]);
        }
    });

    it("hands tokens to the servers as secret env only", async () => {
        const { outputs, resolved } = await run(base);
        const token = rec.one("random:index/randomPassword:RandomPassword", "copilot-connection-token").state.result;
        const e = env(rec.one("docker:index/container:Container", "copilot-1"));
        expect(e).toEqual({ COPILOT_HOME: "/home/copilot/.copilot", HOME: "/home/copilot", COPILOT_CONNECTION_TOKEN: token, COPILOT_GITHUB_TOKEN: "gho_service" });
        expect(resolved.connectionToken).toBe(token);
        expect(await pulumiMod.isSecret(outputs.connectionToken as pulumi.Output<string>)).toBe(true);
        expect(await pulumiMod.isSecret(outputs.redisUrl as pulumi.Output<string>)).toBe(true);
    });

    it("puts HAProxy in front with the JSON-RPC health check over every replica, published on loopback", async () => {
        const { resolved } = await run(base);
        const lb = inputsOf(rec.one("docker:index/container:Container", "copilot-lb"));
        expect(lb.image).toMatch(/^sha256:/);
        expect(rec.one("docker:index/remoteImage:RemoteImage", "copilot-lb-image").inputs.name).toMatch(/^haproxy:\d+\.\d+\.\d+$/);
        // Clients' port first (the endpoint output), then HAProxy's Prometheus /metrics, both on loopback only.
        expect(lb.ports).toEqual([
            { internal: 4321, ip: "127.0.0.1" },
            { internal: 8404, ip: "127.0.0.1" },
        ]);
        const token = rec.one("random:index/randomPassword:RandomPassword", "copilot-connection-token").state.result as string;
        const cfg = lb.uploads[0].content as string;
        expect(lb.uploads[0].file).toBe("/usr/local/etc/haproxy/haproxy.cfg");
        expect(cfg).toBe(
            haproxyConfig({
                bind: "*:4321",
                backends: ["copilot-1", "copilot-2", "copilot-3"].map((n) => ({ name: n, address: `${n}:4321` })),
                connectionToken: token,
                resolver: "resolv.conf",
                metricsBind: "*:8404",
            }),
        );
        expect(cfg).toContain("http-request use-service prometheus-exporter if { path /metrics }");
        expect(cfg).toContain("option redispatch 1");
        expect(cfg).toContain("tcp-check expect string pong");
        expect(resolved.endpoint).toBe(`127.0.0.1:${hostPort(rec.one("docker:index/container:Container", "copilot-lb"))}`);
    });

    it("outputs per-replica loopback addresses the smoke suite dials", async () => {
        const { resolved } = await run(base);
        const ports = ["copilot-1", "copilot-2", "copilot-3"].map((n) => hostPort(rec.one("docker:index/container:Container", n)));
        expect(new Set(ports).size).toBe(3);
        expect(ports.every((p: number) => p >= MOCK_FIRST_PORT)).toBe(true);
        expect(resolved.replicas).toEqual(ports.map((p: number, i: number) => ({ name: `copilot-${i + 1}`, endpoint: `127.0.0.1:${p}` })));
        expect(resolved).toMatchObject({ platform: "docker", mode: "shared", sessionStatePath: "/home/copilot/.copilot/session-state" });
    });

    it("runs Redis with a password from an uploaded config file, never in args", async () => {
        const { resolved } = await run(base);
        const redis = inputsOf(rec.one("docker:index/container:Container", "copilot-redis"));
        const password = rec.one("random:index/randomPassword:RandomPassword", "copilot-redis-password").state.result as string;
        expect(redis.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
        expect(JSON.stringify(redis.command)).not.toContain(password);
        expect(redis.uploads[0].content).toContain(`requirepass ${password}`);
        expect(redis.ports[0].ip).toBe("127.0.0.1");
        // Not on the servers' network: they never take locks, so they cannot reach it.
        expect(redis.networksAdvanced).toEqual([{ name: "copilot-redis-net", aliases: ["copilot-redis"] }]);
        for (const c of rec.ofType("docker:index/container:Container").filter((x) => x.name !== "copilot-redis")) {
            expect((inputsOf(c).networksAdvanced as { name: string }[]).map((n) => n.name)).not.toContain("copilot-redis-net");
        }
        expect(resolved.redisUrl).toBe(`redis://:${password}@127.0.0.1:${hostPort(rec.one("docker:index/container:Container", "copilot-redis"))}`);
    });

    it("BYOK: no model credential in the containers; provider is a secret output", async () => {
        const { outputs, resolved } = await run({ platform: "docker", image: "copilot-cli:1.0.102", provider: '{"baseUrl":"http://127.0.0.1:9/v1","model":"m","apiKey":"sk-x"}' });
        expect(Object.keys(env(rec.one("docker:index/container:Container", "copilot-1")))).toEqual(["COPILOT_HOME", "HOME", "COPILOT_CONNECTION_TOKEN"]);
        expect(resolved.provider).toEqual({ type: "openai", baseUrl: "http://127.0.0.1:9/v1", model: "m", apiKey: "sk-x" });
        expect(await pulumiMod.isSecret(outputs.provider as pulumi.Output<unknown>)).toBe(true);
        for (const r of rec.resources) expect(JSON.stringify(r.inputs)).not.toContain("sk-x");
    });
});

describe("docker per-user fleet", () => {
    const raw: RawConfig = {
        platform: "docker",
        mode: "per-user",
        githubToken: "gho_service",
        image: "copilot-cli:1.0.102",
        users: JSON.stringify(["alice", { id: "bob", githubToken: "gho_bob" }, { id: "carol", suspended: true }]),
    };

    it("gives each user their own container, volume, network and token", async () => {
        const { outputs, resolved } = await run(raw);
        const users = resolved.users as Record<string, { endpoint: string; connectionToken: string; suspended: boolean }>;
        expect(Object.keys(users)).toEqual(["alice", "bob", "carol"]);
        const tokens = Object.values(users).map((u) => u.connectionToken);
        expect(new Set(tokens).size).toBe(3);
        for (const id of ["alice", "bob", "carol"]) {
            const c = inputsOf(rec.one("docker:index/container:Container", `copilot-u-${id}`));
            expect(c.mounts).toEqual([{ type: "volume", source: `copilot-u-${id}-session-state`, target: "/home/copilot/.copilot/session-state" }]);
            expect(c.networksAdvanced[0].name).toBe(`copilot-u-${id}-net`);
            expect(env(rec.one("docker:index/container:Container", `copilot-u-${id}`)).COPILOT_CONNECTION_TOKEN).toBe(users[id].connectionToken);
            expect(users[id].endpoint).toBe(`127.0.0.1:${hostPort(rec.one("docker:index/container:Container", `copilot-u-${id}`))}`);
        }
        expect(env(rec.one("docker:index/container:Container", "copilot-u-bob")).COPILOT_GITHUB_TOKEN).toBe("gho_bob");
        expect(env(rec.one("docker:index/container:Container", "copilot-u-alice")).COPILOT_GITHUB_TOKEN).toBe("gho_service");
        expect(await pulumiMod.isSecret(outputs.users as pulumi.Output<unknown>)).toBe(true);
    });

    it("suspends a user by stopping the container and keeping the volume", async () => {
        const { resolved } = await run(raw);
        const carol = inputsOf(rec.one("docker:index/container:Container", "copilot-u-carol"));
        expect(carol).toMatchObject({ start: false, mustRun: false });
        expect(rec.one("docker:index/volume:Volume", "copilot-u-carol-session-state")).toBeDefined();
        expect((resolved.users as Record<string, { suspended: boolean }>).carol.suspended).toBe(true);
        expect(inputsOf(rec.one("docker:index/container:Container", "copilot-u-alice"))).toMatchObject({ start: true, mustRun: true });
        // The provider starts or stops a container only on create: a suspend must replace it (a real up left it running).
        for (const n of ["copilot-u-carol", "copilot-u-alice"]) {
            expect(rec.one("docker:index/container:Container", n).opts.replaceOnChanges, n).toEqual(expect.arrayContaining(["start", "mustRun"]));
            // A fixed name: the old container must go before the new one is made.
            expect(rec.one("docker:index/container:Container", n).opts.deleteBeforeReplace, n).toBe(true);
        }
    });
});

describe("docker secret handling options", () => {
    it("marks envs and uploads of every token-carrying container as secret outputs", async () => {
        await run({ platform: "docker", githubToken: "gho_service", replicas: "2", image: "copilot-cli:1.0.102" });
        for (const n of ["copilot-1", "copilot-2", "copilot-lb", "copilot-redis"]) {
            expect(rec.one("docker:index/container:Container", n).opts.additionalSecretOutputs).toEqual(["envs", "uploads"]);
        }
    });
});
