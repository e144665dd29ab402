/**
 * The real engine on the Docker platform: `pulumi up` of this project through the docker plugin
 * against podman's Docker-compatible API (the image is built through the provider), the smoke suite
 * against what it started, and `pulumi destroy`. Needs the engine (`bash scripts/pulumi-engine.sh`),
 * podman and the test base image; it fails, never skips, without them.
 *
 * Servers reach the stub model at `host.containers.internal` (podman's name for the host on each
 * bridge network), so the stub listens on all addresses and requires an API key.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetOutputs } from "../../components/contract/outputs";
import { waitForPing } from "../../smoke/rpc";
import { pinnedCliVersion, podman, REPO_ROOT, run } from "../helpers/containers";
import { DockerEngineFixture, startDockerEngineFixture } from "../helpers/dockerEngine";
import { changeSummary, EngineStack } from "../helpers/engine";
import { ClientPool, sessionConfig, sessionEvents, turn } from "../helpers/fleet";

/** The version a fleet is first deployed at, then upgraded from to the pinned one. */
const OLD_CLI_VERSION = "1.0.92";
const STEP_MS = 15 * 60_000;

let fx: DockerEngineFixture;

beforeAll(async () => {
    fx = await startDockerEngineFixture([pinnedCliVersion(), OLD_CLI_VERSION]);
}, 60 * 60_000);

afterAll(async () => {
    await fx?.stop();
});

/**
 * A stack for one describe block: created before its tests, destroyed and removed after them, even
 * when a test failed. The value stands for the stack the hook creates.
 */
function useStack(name: string, config: Record<string, string>, cliVersion = pinnedCliVersion()): EngineStack {
    let current: EngineStack | undefined;
    beforeAll(async () => {
        current = fx.stack(name, config, cliVersion);
        await current.create();
    }, STEP_MS);
    afterAll(async () => {
        try {
            await current?.destroy({ check: false });
        } finally {
            current?.remove();
        }
    }, STEP_MS);
    return new Proxy({} as EngineStack, {
        get: (_t, prop) => {
            if (!current) throw new Error(`stack ${name} is used before its beforeAll created it`);
            const v: unknown = Reflect.get(current, prop, current);
            return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(current) : v;
        },
    });
}

interface SmokeResult {
    readonly name: string;
    readonly status: "PASS" | "FAIL" | "SKIP";
    readonly detail?: string;
}

/** `npm run smoke -- --stack <name>` as a user runs it after `pulumi up`, with the stack's backend. */
async function smoke(stack: EngineStack): Promise<SmokeResult[]> {
    const report = path.join(stack.dir, "smoke.json");
    const r = await run(
        "npx",
        ["ts-node", "--transpile-only", "smoke/cli.ts", "--stack", stack.stack, "--json", report, "--redteam-provider-base-url", fx.providerBaseUrl],
        { cwd: REPO_ROOT, env: { ...stack.env(), SMOKE_REDTEAM_PROVIDER_API_KEY: fx.apiKey }, timeoutMs: 10 * 60_000, check: false },
    );
    const results = (JSON.parse(readFileSync(report, "utf8")) as { results: SmokeResult[] }).results;
    const failed = results.filter((x) => x.status === "FAIL");
    expect(failed, `smoke failed:\n${r.stdout.slice(-4000)}`).toEqual([]);
    expect(r.code).toBe(0);
    return results;
}

/** `<Type> <name>` → the provider's ID, from the stack's state (a new ID is a replacement). */
async function resourceIds(stack: EngineStack): Promise<Map<string, string>> {
    const state = await stack.exportState();
    const ids = new Map<string, string>();
    for (const r of state.deployment.resources ?? []) {
        const urn = String(r.urn);
        const type = urn.split("::")[2]?.split("$").pop()?.split(":").pop() ?? "";
        if (r.id) ids.set(`${type} ${urn.split("::").pop()}`, String(r.id));
    }
    return ids;
}

/** What this stack left in the engine: containers, volumes and networks with its labels. */
async function leftovers(): Promise<string[]> {
    const out: string[] = [];
    for (const kind of ["ps -a", "volume ls", "network ls"]) {
        const r = await podman([...kind.split(" "), "--filter", "label=app.kubernetes.io/part-of=copilot-fleet", "--format", "{{.Names}}{{.Name}}"], { check: false });
        out.push(...r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => `${kind.split(" ")[0]} ${l.trim()}`));
    }
    return out;
}

describe("docker platform through the real engine (podman's Docker API)", () => {
    describe("shared mode", () => {
        const stack = useStack("cfe-docker-shared", { "copilot-fleet:mode": "shared", "copilot-fleet:replicas": "2" }, OLD_CLI_VERSION);

        it(
            "pulumi up builds the image through the provider and starts the fleet",
            async () => {
                const up = await stack.up({ timeoutMs: STEP_MS });
                expect(changeSummary(up.stdout).create).toBeGreaterThanOrEqual(15);
                const outputs = await stack.outputs();
                expect(outputs).toMatchObject({ platform: "docker", mode: "shared", toolGuard: true, connectionToken: "[secret]" });
                expect(outputs.replicas).toHaveLength(2);
            },
            STEP_MS,
        );

        it("a second pulumi up changes nothing", async () => {
            const preview = await stack.preview(["--expect-no-changes"], { check: false });
            expect(preview.code, preview.stdout.slice(-4000)).toBe(0);
        }, STEP_MS);

        it("the smoke suite passes against it: auth, cross-replica resume, lock, red-team", async () => {
            const results = await smoke(stack);
            const byName = new Map(results.map((r) => [r.name, r.status]));
            for (const name of ["cross-replica resume", "session lock serialises writers", "red-team: tenantSessionConfig keeps tenants apart", "red-team: plain approveAll (documents the hazard)"]) {
                expect(byName.get(name), name).toBe("PASS");
            }
            expect(results.filter((r) => r.name.startsWith("auth refuses")).every((r) => r.status === "PASS")).toBe(true);
        }, STEP_MS);

        it("replicas 2 → 3 adds a replica and replaces no server", async () => {
            const idsBefore = await resourceIds(stack);
            await stack.setConfig({ "copilot-fleet:replicas": "3" });
            const up = await stack.up({ timeoutMs: STEP_MS });
            const changes = changeSummary(up.stdout);
            expect(changes.create).toBeGreaterThanOrEqual(1);
            expect(changes.delete ?? 0).toBe(0);
            const idsAfter = await resourceIds(stack);
            for (const n of ["Container copilot-1", "Container copilot-2", "Volume copilot-session-state", "Container copilot-redis"]) expect(idsAfter.get(n), n).toBe(idsBefore.get(n));
            expect(idsAfter.get("Container copilot-3")).toBeDefined();
            expect((await stack.outputs()).replicas).toHaveLength(3);
        }, STEP_MS);

        it("a cliVersion change rolls the servers, and a session made before it resumes after it with its history", async () => {
            const outputs = (await stack.outputs(true)) as unknown as FleetOutputs;
            const pool = new ClientPool(outputs.connectionToken as string);
            let sessionId: string;
            try {
                const s = await pool.client(outputs.endpoint as string).createSession(sessionConfig(outputs));
                sessionId = s.sessionId;
                await turn(s, "remember the word pineapple", 120_000);
                await s.disconnect();
            } finally {
                await pool.stopAll();
            }
            await stack.setConfig({ "copilot-fleet:cliVersion": pinnedCliVersion(), "copilot-fleet:imageReleaseBaseUrl": fx.releaseUrl(pinnedCliVersion()) });
            const idsBefore = await resourceIds(stack);
            await stack.up({ timeoutMs: STEP_MS });
            const idsAfter = await resourceIds(stack);
            // The servers rolled; the volume (the sessions), Redis and the balancer did not.
            for (const n of ["copilot-1", "copilot-2", "copilot-3"]) expect(idsAfter.get(`Container ${n}`), n).not.toBe(idsBefore.get(`Container ${n}`));
            for (const n of ["Volume copilot-session-state", "Container copilot-redis", "Container copilot-lb", "Network copilot-net"]) expect(idsAfter.get(n), n).toBe(idsBefore.get(n));
            const after = (await stack.outputs(true)) as unknown as FleetOutputs;
            // Every replica, then the balancer (its health checks have to see the new replicas up).
            for (const t of [...(after.replicas ?? []), { name: "load balancer", endpoint: after.endpoint as string }]) {
                const probe = await waitForPing(t.endpoint, after.connectionToken as string, 120_000);
                expect(probe.ok, t.name).toBe(true);
            }
            const pool2 = new ClientPool(after.connectionToken as string);
            try {
                const resumed = await pool2.client(after.endpoint as string).resumeSession(sessionId, sessionConfig(after));
                const texts = (await sessionEvents(resumed)).map((e) => JSON.stringify(e.data ?? {}));
                expect(texts.some((t) => t.includes("remember the word pineapple"))).toBe(true);
                expect(await turn(resumed, "what was the word?", 120_000)).not.toBe("");
                await resumed.disconnect();
            } finally {
                await pool2.stopAll();
            }
        }, STEP_MS);

        it("pulumi destroy leaves no container, volume or network behind", async () => {
            await stack.destroy({ timeoutMs: STEP_MS });
            expect(await leftovers()).toEqual([]);
        }, STEP_MS);
    });

    describe("per-user mode", () => {
        const users = (suspendAlice: boolean) => JSON.stringify([{ id: "alice", suspended: suspendAlice }, { id: "bob", suspended: true }, { id: "carol" }]);
        const running = async (container: string) => (await podman(["inspect", "--format", "{{.State.Running}}", container])).stdout.trim() === "true";
        const volumeExists = async (volume: string) => (await podman(["volume", "exists", volume], { check: false })).code === 0;

        const stack = useStack("cfe-docker-users", { "copilot-fleet:mode": "per-user", "copilot-fleet:users": users(false) });

        it("pulumi up starts one server per active user; a suspended user's server is stopped and their volume is there", async () => {
            await stack.up({ timeoutMs: STEP_MS });
            expect(await running("copilot-u-alice")).toBe(true);
            expect(await running("copilot-u-carol")).toBe(true);
            expect(await running("copilot-u-bob")).toBe(false);
            expect(await volumeExists("copilot-u-bob-session-state")).toBe(true);
            const preview = await stack.preview(["--expect-no-changes"], { check: false });
            expect(preview.code, preview.stdout.slice(-4000)).toBe(0);
        }, STEP_MS);

        it("the smoke suite passes against it (each user's server takes only that user's token)", async () => {
            const results = await smoke(stack);
            expect(results.filter((r) => r.name.startsWith("user ") && r.name.endsWith("refuses other tokens")).map((r) => r.status)).toEqual(["PASS", "PASS"]);
        }, STEP_MS);

        it("suspending a user stops their server and keeps their volume; the others are untouched", async () => {
            const idsBefore = await resourceIds(stack);
            await stack.setConfig({ "copilot-fleet:users": users(true) });
            await stack.up({ timeoutMs: STEP_MS });
            expect(await running("copilot-u-alice")).toBe(false);
            expect(await volumeExists("copilot-u-alice-session-state")).toBe(true);
            const idsAfter = await resourceIds(stack);
            expect(idsAfter.get("Volume copilot-u-alice-session-state")).toBe(idsBefore.get("Volume copilot-u-alice-session-state"));
            expect(idsAfter.get("Container copilot-u-carol")).toBe(idsBefore.get("Container copilot-u-carol"));
            expect(await running("copilot-u-carol")).toBe(true);
        }, STEP_MS);

        it("pulumi destroy leaves no container, volume or network behind", async () => {
            await stack.destroy({ timeoutMs: STEP_MS });
            expect(await leftovers()).toEqual([]);
        }, STEP_MS);
    });

    describe("per-user mode with idle suspend: the suspender and pulumi up do not fight", () => {
        const users = (suspendBob: boolean) => JSON.stringify([{ id: "alice" }, { id: "bob", suspended: suspendBob }]);
        const inspect = async (container: string) => {
            const r = await podman(["inspect", "--format", "{{.Id}} {{.State.Running}}", container]);
            const [id, running] = r.stdout.trim().split(" ");
            return { id, running: running === "true" };
        };

        const stack = useStack("cfe-docker-idle", { "copilot-fleet:mode": "per-user", "copilot-fleet:users": users(false), "copilot-fleet:idleSuspendMinutes": "5" });

        it("pulumi up starts the servers and the suspender (with the engine's own socket)", async () => {
            await stack.up({ timeoutMs: STEP_MS });
            expect((await inspect("copilot-u-alice")).running).toBe(true);
            expect((await inspect("copilot-idle-suspender")).running).toBe(true);
        }, STEP_MS);

        it("after a suspend (the stop the suspender makes, cleanup container included), pulumi up leaves both stopped and unreplaced; a wake starts the server and a turn runs", async () => {
            const before = await inspect("copilot-u-alice");
            const cleanupBefore = await inspect("copilot-u-alice-session-cleanup");
            expect(cleanupBefore.running).toBe(true);
            const { dockerControl, ensureRunning } = await import("@copilot-fleet/client");
            const socketPath = fx.service.dockerHost.slice("unix://".length);
            // What the suspender's control does (suspender-main.js gives it the users file's companions): the server, then its cleanup container.
            const suspenderControl = dockerControl({ containerName: (id) => `copilot-u-${id}`, companions: (id) => [`copilot-u-${id}-session-cleanup`], socketPath });
            await suspenderControl.stop("alice");
            const preview = await stack.preview(["--expect-no-changes"], { check: false });
            expect(preview.code, preview.stdout.slice(-4000)).toBe(0);
            await stack.up({ timeoutMs: STEP_MS });
            expect(await inspect("copilot-u-alice")).toEqual({ id: before.id, running: false });
            expect(await inspect("copilot-u-alice-session-cleanup")).toEqual({ id: cleanupBefore.id, running: false });

            const outputs = (await stack.outputs(true)) as unknown as FleetOutputs;
            const alice = outputs.users?.alice;
            if (!alice?.connectionToken) throw new Error("no alice in outputs");
            // A backend's wake knows the server only; the suspender's next round starts the companion.
            const control = dockerControl({ containerName: (id) => `copilot-u-${id}`, socketPath });
            const woken = await ensureRunning("alice", { control, endpoint: alice.endpoint, connectionToken: alice.connectionToken, timeoutMs: 120_000 });
            expect(woken.started).toBe(true);
            expect((await inspect("copilot-u-alice-session-cleanup")).running).toBe(false);
            await suspenderControl.startCompanions?.("alice");
            expect((await inspect("copilot-u-alice-session-cleanup")).running).toBe(true);
            const pool = new ClientPool(alice.connectionToken);
            try {
                const s = await pool.client(woken.endpoint).createSession(sessionConfig(outputs));
                expect(await turn(s, "hello after a wake", 120_000)).not.toBe("");
                await s.disconnect();
            } finally {
                await pool.stopAll();
            }
        }, STEP_MS);

        it("suspended: true in config still forces a server off, and a wake refuses that user", async () => {
            await stack.setConfig({ "copilot-fleet:users": users(true) });
            await stack.up({ timeoutMs: STEP_MS });
            expect((await inspect("copilot-u-bob")).running).toBe(false);
            const outputs = (await stack.outputs(true)) as unknown as FleetOutputs;
            const { dockerControl, ensureRunning, WakeRefusedError } = await import("@copilot-fleet/client");
            const control = dockerControl({ containerName: (id) => `copilot-u-${id}`, socketPath: fx.service.dockerHost.slice("unix://".length) });
            await expect(ensureRunning("bob", { control, connectionToken: outputs.users?.bob?.connectionToken as string, timeoutMs: 20_000 })).rejects.toBeInstanceOf(WakeRefusedError);
            expect((await inspect("copilot-u-bob")).running).toBe(false);
        }, STEP_MS);

        it("pulumi destroy leaves no container, volume or network behind", async () => {
            await stack.destroy({ timeoutMs: STEP_MS });
            expect(await leftovers()).toEqual([]);
        }, STEP_MS);
    });
});
