/**
 * Idle suspend on Docker under mocks: with it on, `pulumi up` does not restart a container the
 * suspender stopped (mustRun false: the provider replaces a stopped container only when mustRun is
 * true), each container's label says whether config suspends the user, and one suspender container
 * joins every user's network with the engine socket and the tokens in an upload (secret).
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";
import { hostEngineSocket } from "../../../components/docker/suspender";

let rec: MockRecorder;
beforeAll(() => {
    rec = installMocks();
});
beforeEach(() => rec.clear());

const base: RawConfig = { platform: "docker", mode: "per-user", githubToken: "gho_service", image: "copilot-cli:1.0.102", users: '["alice",{"id":"bob","suspended":true}]', idleSuspendMinutes: "15" };
const CONTAINER = "docker:index/container:Container";
const find = (name: string): RecordedResource => {
    const r = rec.resources.find((x) => x.type === CONTAINER && x.name === name);
    if (!r) throw new Error(`no container ${name}`);
    return r;
};
const labels = (r: RecordedResource): Record<string, string> => Object.fromEntries(((r.inputs as Obj).labels as Obj[]).map((l) => [l.label, l.value]));

describe("idle suspend on Docker", () => {
    it("does not make pulumi up restart a suspended container, and config still forces a user off", async () => {
        await deployUnderMocks(base);
        const alice = find("copilot-u-alice").inputs as Obj;
        expect(alice.start).toBe(true);
        expect(alice.mustRun).toBe(false);
        expect(labels(find("copilot-u-alice"))["copilot-fleet.github.com/suspended"]).toBe("false");
        const bob = find("copilot-u-bob").inputs as Obj;
        expect(bob.start).toBe(false);
        expect(bob.mustRun).toBe(false);
        expect(labels(find("copilot-u-bob"))["copilot-fleet.github.com/suspended"]).toBe("true");
    });

    it("keeps mustRun (and no marker) without idleSuspendMinutes", async () => {
        const { idleSuspendMinutes: _, ...off } = base;
        await deployUnderMocks(off);
        expect((find("copilot-u-alice").inputs as Obj).mustRun).toBe(true);
        expect(labels(find("copilot-u-alice"))["copilot-fleet.github.com/suspended"]).toBeUndefined();
        expect(rec.resources.filter((r) => r.name.includes("suspender"))).toEqual([]);
    });

    it("runs one suspender on every user's network, with the engine socket and the tokens only in its uploads", async () => {
        const { resolved } = await deployUnderMocks(base);
        const s = find("copilot-idle-suspender");
        const i = s.inputs as Obj;
        // By image ID (as every fleet container on Docker): a RemoteImage pulls the pinned Node.js image.
        const img = rec.resources.find((r) => r.type === "docker:index/remoteImage:RemoteImage" && r.name === "copilot-idle-suspender-image");
        expect((img?.inputs as Obj).name).toBe("docker.io/library/node:20.19.5-bookworm-slim");
        expect(i.image).toBe((img?.state as Obj).imageId);
        expect(i.image).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(i.command).toEqual(["node", "/opt/copilot-fleet/suspender/suspender-main.js"]);
        // The host's socket is the one the provider talks to (DOCKER_HOST), in the container always the default path.
        expect(i.mounts).toEqual([{ type: "bind", source: hostEngineSocket(process.env.DOCKER_HOST), target: "/var/run/docker.sock" }]);
        expect((i.networksAdvanced as Obj[]).map((n) => n.name).sort()).toEqual(["copilot-u-alice-net", "copilot-u-bob-net"]);
        expect(i.envs).toContain("SUSPENDER_PLATFORM=docker");
        expect(i.envs).toContain("SUSPENDER_IDLE_MINUTES=15");
        const users = resolved.users as Record<string, { connectionToken: string; server: string }>;
        expect(JSON.stringify(i.envs).includes(users.alice.connectionToken)).toBe(false);
        const file = (i.uploads as Obj[]).find((u) => u.file === "/etc/copilot-fleet/suspender/users.json");
        expect(JSON.parse(file?.content as string)).toEqual({
            alice: { endpoint: "copilot-u-alice:4321", connectionToken: users.alice.connectionToken, server: "copilot-u-alice", companions: ["copilot-u-alice-session-cleanup"] },
            bob: { endpoint: "copilot-u-bob:4321", connectionToken: users.bob.connectionToken, server: "copilot-u-bob", companions: ["copilot-u-bob-session-cleanup"] },
        });
        expect(s.opts.additionalSecretOutputs).toContain("uploads");
        expect(i.memory).toBe(128);
        expect(i.healthcheck.tests[0]).toBe("CMD");
        expect(users.alice.server).toBe("copilot-u-alice");
        expect(resolved.idleSuspend).toEqual({ minutes: 15 });
    });
});

describe("idle suspend with session cleanup on Docker", () => {
    it("the cleanup container stops and starts with its server: in the users file as a companion, and mustRun off so up leaves it stopped", async () => {
        const { resolved } = await deployUnderMocks({ ...base, sessionTtlHours: "24" });
        expect((find("copilot-u-alice-session-cleanup").inputs as Obj).mustRun).toBe(false);
        expect((find("copilot-u-alice-session-cleanup").inputs as Obj).start).toBe(true);
        expect((find("copilot-u-bob-session-cleanup").inputs as Obj).start).toBe(false);
        const users = resolved.users as Record<string, { connectionToken: string }>;
        const file = ((find("copilot-idle-suspender").inputs as Obj).uploads as Obj[]).find((u) => u.file === "/etc/copilot-fleet/suspender/users.json");
        expect(JSON.parse(file?.content as string).alice).toEqual({
            endpoint: "copilot-u-alice:4321",
            connectionToken: users.alice.connectionToken,
            server: "copilot-u-alice",
            companions: ["copilot-u-alice-session-cleanup"],
        });
    });

    it("without idle suspend the cleanup container keeps mustRun", async () => {
        const { idleSuspendMinutes: _, ...off } = base;
        await deployUnderMocks({ ...off, sessionTtlHours: "24" });
        expect((find("copilot-u-alice-session-cleanup").inputs as Obj).mustRun).toBe(true);
    });
});

describe("hostEngineSocket", () => {
    it.each([
        [undefined, "/var/run/docker.sock"],
        ["unix:///run/user/1000/podman/podman.sock", "/run/user/1000/podman/podman.sock"],
        ["unix:///var/run/docker.sock", "/var/run/docker.sock"],
        ["tcp://10.0.0.5:2376", "/var/run/docker.sock"],
    ])("DOCKER_HOST %s → %s on the host", (host, socket) => {
        expect(hostEngineSocket(host)).toBe(socket);
    });
});

describe("health checks podman reads back as they were written", () => {
    it("no exec-form (CMD) health-check argument holds a space: podman splits them, and every up saw a change", async () => {
        await deployUnderMocks(base);
        const containers = rec.resources.filter((r) => r.type === CONTAINER);
        expect(containers.map((c) => c.name)).toContain("copilot-idle-suspender");
        for (const c of containers) {
            const tests = ((c.inputs as Obj).healthcheck as Obj | undefined)?.tests as string[] | undefined;
            if (tests?.[0] === "CMD") for (const a of tests.slice(1)) expect(a, `${c.name}: ${a}`).not.toMatch(/\s/);
        }
    });
});
