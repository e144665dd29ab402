/**
 * Session cleanup on Docker under mocks: one loop-mode container per shared fleet (through the load
 * balancer) and one per user (on that user's network, volume and token), from the one CleanupSpec.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { renderCleanupContainer } from "../../../components/docker/cleanup";
import { CLI_PORT, HEALTHCHECK_PATH, SESSION_STATE_PATH } from "../../../components/contract/server";
import { buildCleanupSpec, CLEANUP_PATH } from "../../../components/contract/cleanup";
import { dockerContainerView } from "../../../policy/docker";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
beforeAll(() => {
    rec = installMocks();
});
beforeEach(() => rec.clear());

const CONTAINER = "docker:index/container:Container";
const inputsOf = (r: RecordedResource) => r.inputs as Obj;
type DockerProps = Parameters<typeof dockerContainerView>[1];
const env = (c: RecordedResource) => Object.fromEntries((inputsOf(c).envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
const shared: RawConfig = { platform: "docker", githubToken: "gho_service", replicas: "2", image: "copilot-cli:1.0.102" };

describe("docker shared fleet: one loop-mode cleanup container", () => {
    it("dials the load balancer with the fleet token, on the fleet network and volume, locked down", async () => {
        await deployUnderMocks({ ...shared, sessionTtlHours: "72", sessionCleanupIntervalMinutes: "30" });
        const r = rec.one(CONTAINER, "copilot-session-cleanup");
        const c = inputsOf(r);
        const replica = rec.one(CONTAINER, "copilot-1");
        expect(c.image).toBe(inputsOf(replica).image);
        expect(c.command).toEqual([
            CLEANUP_PATH, "--endpoint", `copilot-lb:${CLI_PORT}`, "--ttl-hours", "72", "--state-dir", SESSION_STATE_PATH, "--timeout-ms", "30000", "--interval", "1800",
        ]);
        // Only the token, the same one the servers hold; never on the command line.
        expect(env(r)).toEqual({ COPILOT_CONNECTION_TOKEN: env(replica).COPILOT_CONNECTION_TOKEN });
        expect((c.command as string[]).join(" ")).not.toContain(env(replica).COPILOT_CONNECTION_TOKEN);
        expect(r.opts.additionalSecretOutputs).toEqual(["envs", "uploads"]);
        expect(c.mounts).toEqual([{ type: "volume", source: "copilot-session-state", target: SESSION_STATE_PATH }]);
        expect(c.networksAdvanced).toEqual([{ name: "copilot-net" }]);
        expect(c.ports).toBeUndefined();
        expect(c).toMatchObject({
            user: "10001:10001",
            readOnly: true,
            capabilities: { drops: ["ALL"] },
            securityOpts: ["no-new-privileges:true"],
            memory: 64,
            memoryReservation: 16,
            cpus: "0.2",
            restart: "unless-stopped",
            stopSignal: "SIGTERM",
        });
        expect(c.healthcheck.tests).toEqual(["CMD", HEALTHCHECK_PATH, "--host", "copilot-lb", "--port", String(CLI_PORT)]);
        expect(c.labels).toContainEqual({ label: "app.kubernetes.io/component", value: "session-cleanup" });
    });

    it("the policy adapter does not count it as a server, though it runs the server image with the token", async () => {
        await deployUnderMocks(shared);
        const cleanup = dockerContainerView("copilot-session-cleanup", rec.one(CONTAINER, "copilot-session-cleanup").inputs as DockerProps);
        const server = dockerContainerView("copilot-1", rec.one(CONTAINER, "copilot-1").inputs as DockerProps);
        expect([cleanup.isServer(), server.isServer()]).toEqual([false, true]);
        expect(cleanup.probes()).toEqual({ readiness: true, liveness: true });
    });

    it("refuses a once-mode spec (Docker has no scheduler)", () => {
        const once = buildCleanupSpec({ endpoint: "copilot-lb:4321", ttlHours: 24, mode: "once" });
        expect(() => renderCleanupContainer(once, { image: "i", network: "n", volume: "v", secrets: { "connection-token": "t" }, labels: {} })).toThrow(
            'Docker has no scheduler: the cleanup container needs a "loop" spec, got "once"',
        );
    });
});

describe("docker per-user: one cleanup container per user", () => {
    const raw: RawConfig = {
        platform: "docker",
        mode: "per-user",
        githubToken: "gho_service",
        image: "copilot-cli:1.0.102",
        users: JSON.stringify(["alice", { id: "carol", suspended: true }]),
    };

    it("runs beside each user's server with that user's network, volume and token; stopped for suspended users", async () => {
        await deployUnderMocks(raw);
        for (const id of ["alice", "carol"]) {
            const r = rec.one(CONTAINER, `copilot-u-${id}-session-cleanup`);
            const c = inputsOf(r);
            expect(c.command[2]).toBe(`copilot-u-${id}:${CLI_PORT}`);
            expect(c.networksAdvanced).toEqual([{ name: `copilot-u-${id}-net` }]);
            expect(c.mounts).toEqual([{ type: "volume", source: `copilot-u-${id}-session-state`, target: SESSION_STATE_PATH }]);
            expect(env(r).COPILOT_CONNECTION_TOKEN).toBe(env(rec.one(CONTAINER, `copilot-u-${id}`)).COPILOT_CONNECTION_TOKEN);
            expect(c.labels).toContainEqual({ label: "copilot-fleet.github.com/user", value: id });
        }
        expect(env(rec.one(CONTAINER, "copilot-u-alice-session-cleanup")).COPILOT_CONNECTION_TOKEN).not.toBe(
            env(rec.one(CONTAINER, "copilot-u-carol-session-cleanup")).COPILOT_CONNECTION_TOKEN,
        );
        expect(inputsOf(rec.one(CONTAINER, "copilot-u-alice-session-cleanup"))).toMatchObject({ start: true, mustRun: true });
        expect(inputsOf(rec.one(CONTAINER, "copilot-u-carol-session-cleanup"))).toMatchObject({ start: false, mustRun: false });
    });
});
