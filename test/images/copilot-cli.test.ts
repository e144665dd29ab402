/**
 * Builds images/copilot-cli/Dockerfile for real (buildah, against a debootstrap base and a local HTTP
 * mirror of the release layout serving a tarball of the npm package's real binary) and proves the
 * image on running containers (podman): version, non-root, PID 1, health check, SDK auth, shared
 * session-state across two containers, and that bad checksums fail the build.
 *
 * Needs root with buildah, podman, runc, debootstrap (see images/copilot-cli/README.md "Testing").
 * Cold (no cached base) ~2.5 min, warm ~1.5 min on 2 cores.
 */
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import type { CopilotSession } from "@github/copilot-sdk";
import { readFileSync, statSync } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStubModel } from "../../smoke/local/stub-model";
import { runRedTeam } from "../../smoke/redteam";
import type { StubModel } from "../../smoke/local/stub-model";
import { CLI_CACHE_PATH, CLI_GID, CLI_HOME, CLI_PORT, CLI_UID, CLI_USER, COPILOT_HOME, ENV, HEALTHCHECK_PATH, SESSION_STATE_PATH, serverArgs } from "../../components/contract/server";
import { CLEANUP_EXIT, CLEANUP_PATH } from "../../components/contract/cleanup";
import {
    ContainerSession,
    RELEASE_ASSET_X64,
    buildImage,
    cliBinaryPath,
    ensureBaseImage,
    ensureReleaseFiles,
    freePort,
    imageConfig,
    imageSize,
    pinnedCliVersion,
    podman,
    pruneBuildCache,
    startReleaseMirror,
    waitFor,
} from "../helpers/containers";
import type { ReleaseFiles } from "../helpers/containers";

const VERSION = pinnedCliVersion();
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;

let session: ContainerSession;
let release: ReleaseFiles;
let mirror: Awaited<ReturnType<typeof startReleaseMirror>>;
let stub: StubModel;
let baseImage: string;
let image: string;
const clients: CopilotClient[] = [];
const extraServers: net.Server[] = [];

/** serverArgs() with the bind moved to 127.0.0.1:port: host networking, and nothing may bind 0.0.0.0 here. */
function argsOnLoopback(port: number): string[] {
    const args = serverArgs();
    args[args.indexOf("--host") + 1] = "127.0.0.1";
    args[args.indexOf("--port") + 1] = String(port);
    return args;
}

function serverEnv(port: number): Record<string, string> {
    return {
        [ENV.connectionToken]: TOKEN,
        [ENV.offline]: "true",
        // Offline mode refuses to start without a provider URL and model in the server env (measured).
        [ENV.providerBaseUrl]: stub.baseUrl,
        [ENV.model]: stub.model,
        COPILOT_HEALTHCHECK_PORT: String(port),
    };
}

async function startServer(name: string, volume: string): Promise<{ id: string; port: number; healthyMs: number }> {
    const port = await freePort();
    const t0 = Date.now();
    const id = await session.start(image, { name, env: serverEnv(port), volumes: [`${volume}:${SESSION_STATE_PATH}`], args: argsOnLoopback(port) });
    await waitFor(
        async () => (await session.exec(id, [HEALTHCHECK_PATH])).code === 0,
        60_000,
        250,
        async () => `container ${name} never became healthy; logs:\n${await session.logs(id)}`,
    );
    return { id, port, healthyMs: Date.now() - t0 };
}

function client(port: number, token: string): CopilotClient {
    const c = new CopilotClient({ connection: RuntimeConnection.forUri(`127.0.0.1:${port}`, { connectionToken: token }) });
    clients.push(c);
    return c;
}

const sessionConfig = () => ({
    onPermissionRequest: approveAll,
    provider: { type: "openai" as const, baseUrl: stub.baseUrl },
    model: stub.model,
});

/** A TCP server on 127.0.0.1 that does `behaviour` to every connection (for health check failure cases). */
async function fakeServer(behaviour: (s: net.Socket) => void): Promise<number> {
    const srv = net.createServer(behaviour);
    extraServers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    return (srv.address() as net.AddressInfo).port;
}

beforeAll(async () => {
    session = new ContainerSession();
    [release, stub] = await Promise.all([ensureReleaseFiles(), startStubModel()]);
    const tarball = readFileSync(release.tarball);
    const tampered = Buffer.from(tarball);
    // One flipped byte in the middle of the compressed stream: what a corrupted or swapped download looks like.
    tampered[tampered.length >> 1] ^= 0xff;
    mirror = await startReleaseMirror({
        good: { [RELEASE_ASSET_X64]: release.tarball, "SHA256SUMS.txt": Buffer.from(release.sums) },
        tampered: { [RELEASE_ASSET_X64]: tampered, "SHA256SUMS.txt": Buffer.from(release.sums) },
        unlisted: {
            [RELEASE_ASSET_X64]: release.tarball,
            // The release lists other assets; ours is missing.
            "SHA256SUMS.txt": Buffer.from(`${"0".repeat(64)}  copilot-linux-arm64.tar.gz\n`),
        },
        nosums: { [RELEASE_ASSET_X64]: release.tarball },
    });
    baseImage = (await ensureBaseImage()).ref;
    image = session.trackImage(`localhost/${session.name("image")}:${VERSION}`);
    const built = await buildImage({ tag: image, baseImage, version: VERSION, releaseBaseUrl: mirror.url("good") });
    if (!built.ok) throw new Error(`image build failed:\n${built.output.slice(-4000)}`);
}, 15 * 60_000);

afterAll(async () => {
    await Promise.all(clients.map((c) => c.forceStop().catch(() => undefined)));
    for (const s of extraServers) s.close();
    const problems = session ? await session.cleanup() : [];
    await pruneBuildCache();
    await Promise.all([mirror?.stop(), stub?.stop()]);
    expect(problems).toEqual([]);
}, 5 * 60_000);

describe("image build", () => {
    it("verifies the download and installs the pinned CLI version", async () => {
        const r = await session.runOnce(image, ["copilot", "--version"]);
        expect(r.stdout).toMatch(new RegExp(`\\b${VERSION.replace(/\./g, "\\.")}\\b`));
        expect(mirror.requests).toContain(`GET /good/SHA256SUMS.txt`);
        expect(mirror.requests).toContain(`GET /good/${RELEASE_ASSET_X64}`);
    });

    it("carries the server spec: user, entrypoint that execs args, headless CMD, health check, env, labels", async () => {
        const c = await imageConfig(image);
        expect(c.User).toBe(`${CLI_UID}:${CLI_GID}`);
        expect(c.Entrypoint).toEqual(["/usr/bin/tini", "--"]);
        expect(c.Cmd).toEqual(serverArgs());
        expect(c.Healthcheck?.Test).toEqual(["CMD", HEALTHCHECK_PATH]);
        expect(c.Env).toEqual(expect.arrayContaining([`HOME=${CLI_HOME}`, `COPILOT_HOME=${COPILOT_HOME}`]));
        expect(Object.keys(c.ExposedPorts ?? {})).toEqual([`${CLI_PORT}/tcp`]);
        expect(c.Labels?.["org.opencontainers.image.version"]).toBe(VERSION);
        expect(c.Labels?.["org.opencontainers.image.source"]).toMatch(/^https:\/\//);
    });

    it("final image has no download tools, compilers or apt lists; owned dirs for the CLI user", async () => {
        const r = await session.runOnce(image, [
            "sh",
            "-c",
            'for t in curl wget gcc cc; do command -v $t; done; ls -A /var/lib/apt/lists | grep -v "^partial$"; ' +
                `stat -c '%u:%g %a %n' ${CLI_HOME} ${COPILOT_HOME} ${SESSION_STATE_PATH} ${CLI_CACHE_PATH}; ` +
                "test -s /etc/ssl/certs/ca-certificates.crt && echo certs-ok; id -u; id -g",
        ]);
        const lines = r.stdout.trim().split("\n");
        expect(lines).toEqual([
            `${CLI_UID}:${CLI_GID} 755 ${CLI_HOME}`,
            `${CLI_UID}:${CLI_GID} 700 ${COPILOT_HOME}`,
            `${CLI_UID}:${CLI_GID} 700 ${SESSION_STATE_PATH}`,
            `${CLI_UID}:${CLI_GID} 755 ${CLI_CACHE_PATH}`,
            "certs-ok",
            String(CLI_UID),
            String(CLI_GID),
        ]);
    });

    it("adds little beyond the CLI binary to the base (no build tools, lists or caches left behind)", async () => {
        const [ours, base] = await Promise.all([imageSize(image), imageSize(baseImage)]);
        const added = ours - base - statSync(cliBinaryPath()).size;
        expect(added).toBeGreaterThanOrEqual(0);
        // Measured 2.9 MB since jq and its libraries came in for the tool guard (under 2 MB before).
        expect(added).toBeLessThan(3.5 * 1024 * 1024);
    });
});

describe("bad releases fail the build", () => {
    const failing = async (prefix: string, message: RegExp, version = VERSION) => {
        const tag = session.trackImage(`localhost/${session.name(`bad-${prefix}`)}:x`);
        const r = await buildImage({ tag, baseImage, version, releaseBaseUrl: mirror.url(prefix) });
        expect(r.ok, `build against "${prefix}" should fail`).toBe(false);
        expect(r.output).toMatch(message);
        const exists = await podman(["image", "exists", tag], { check: false });
        expect(exists.code).not.toBe(0);
    };

    it("a tampered tarball", () => failing("tampered", /ERROR: checksum mismatch for copilot-linux-x64\.tar\.gz/), 10 * 60_000);
    it("a SHA256SUMS.txt that does not list the asset", () => failing("unlisted", /ERROR: copilot-linux-x64\.tar\.gz is not listed in SHA256SUMS\.txt/), 10 * 60_000);
    it("a release without SHA256SUMS.txt", () => failing("nosums", /ERROR: cannot download .*SHA256SUMS\.txt: refusing to install an unverified CLI/), 10 * 60_000);
    it("no version, or 'latest'", async () => {
        await failing("good", /ERROR: build arg COPILOT_VERSION is required/, "");
        await failing("good", /ERROR: COPILOT_VERSION must be an exact version, not 'latest'/, "latest");
    }, 10 * 60_000);
});

describe("running containers", () => {
    let volume: string;
    let a: { id: string; port: number; healthyMs: number };

    beforeAll(async () => {
        volume = await session.volume("state");
        a = await startServer("a", volume);
    }, 120_000);

    it("runs tini as PID 1 and the CLI as the non-root uid", async () => {
        // psgo descriptors (the image has no ps): "user" resolves in the container, "huser" is the host uid.
        const r = await podman(["top", a.id, "pid", "user", "huser", "args"]);
        const rows = r.stdout.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/));
        expect(rows.find((x) => x[0] === "1")?.slice(3).join(" "), r.stdout).toMatch(/^\/usr\/bin\/tini -- copilot-fleet-server copilot --headless/);
        expect(rows.find((x) => x[3] === "copilot"), r.stdout).toBeDefined();
        expect(rows.length).toBeGreaterThanOrEqual(2);
        for (const row of rows) expect(row.slice(1, 3), r.stdout).toEqual([CLI_USER, String(CLI_UID)]);
    });

    it("health check passes with the right token and fails with a wrong one", async () => {
        const ok = await session.exec(a.id, [HEALTHCHECK_PATH]);
        expect(ok.stderr).toBe("");
        expect(ok.code).toBe(0);
        const bad = await session.exec(a.id, [HEALTHCHECK_PATH], { env: { [ENV.connectionToken]: "wrong" } });
        expect(bad.code).toBe(1);
        expect(bad.stderr.trim()).toBe("copilot-healthcheck: unhealthy: connect refused: AUTHENTICATION_FAILED");
        // The image's HEALTHCHECK runs the same thing with the container's env.
        const hc = await podman(["healthcheck", "run", a.id], { check: false });
        expect(hc.code, hc.stdout + hc.stderr).toBe(0);
    });

    it("health check fails on a closed port, a non-JSON-RPC answer and a silent server, within its timeout", async () => {
        const closed = await freePort();
        const garbage = await fakeServer((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
        const wrongJson = await fakeServer((s) => s.end('Content-Length: 17\r\n\r\n{"jsonrpc":"2.0"}'));
        const silent = await fakeServer(() => undefined);
        const check = (port: number) => session.exec(a.id, [HEALTHCHECK_PATH, "--port", String(port)]);
        const cases: Array<[number, RegExp]> = [
            [closed, /cannot connect to 127\.0\.0\.1:\d+: Connection refused/],
            [garbage, /garbled answer: no Content-Length header/],
            [wrongJson, /server closed the connection while waiting for the connect answer/],
        ];
        for (const [port, reason] of cases) {
            const r = await check(port);
            expect(r.code).toBe(1);
            expect(r.stderr.trim().split("\n")).toHaveLength(1);
            expect(r.stderr).toMatch(reason);
        }
        const t0 = Date.now();
        const r = await session.exec(a.id, [HEALTHCHECK_PATH, "--port", String(silent), "--timeout-ms", "1500"]);
        const ms = Date.now() - t0;
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/timeout while waiting for the connect answer/);
        expect(ms).toBeGreaterThanOrEqual(1500);
        expect(ms).toBeLessThan(6000);
    }, 60_000);

    it("the headless server accepts an SDK client with the token and refuses a wrong one", async () => {
        const good = client(a.port, TOKEN);
        await good.start();
        const pong = await good.ping("image-test");
        expect(pong.message).toBe("pong: image-test");
        const bad = client(a.port, "wrong-token");
        await expect(bad.start().then(() => bad.ping("x"))).rejects.toThrow(/AUTHENTICATION_FAILED/);
    });

    it("two containers sharing one volume at session-state resume each other's session with history", async () => {
        const ca = client(a.port, TOKEN);
        const s1: CopilotSession = await ca.createSession(sessionConfig());
        const first = await s1.sendAndWait({ prompt: "first turn in container a" }, 60_000);
        expect(first?.data.content).toMatch(/^stub reply #1 to ".*first turn in container a/s);
        await s1.disconnect();

        const b = await startServer("b", volume);
        const cb = client(b.port, TOKEN);
        const before = stub.chatRequests().length;
        const s2 = await cb.resumeSession(s1.sessionId, sessionConfig());
        const second = await s2.sendAndWait({ prompt: "second turn in container b" }, 60_000);
        expect(second?.data.content).toMatch(/^stub reply #2 to ".*second turn in container b/s);
        // B's model request carried A's turn: the history came through the shared volume.
        const sent = stub.chatRequests().slice(before).pop();
        const texts = (sent?.messages ?? []).map((m) => m.content).join("\n");
        expect(texts).toContain("first turn in container a");
        expect(texts).toContain(first?.data.content ?? "<none>");
        await s2.disconnect();
        // The files are the CLI user's, on the volume.
        const own = await session.exec(b.id, ["stat", "-c", "%u", `${SESSION_STATE_PATH}/${s1.sessionId}/events.jsonl`]);
        expect(own.stdout.trim()).toBe(String(CLI_UID));
    }, 180_000);

    it("carries the session cleanup, which runs as the CLI user: lists the shared sessions, deletes no fresh one, refuses a wrong token", async () => {
        const args = [CLEANUP_PATH, "--endpoint", `127.0.0.1:${a.port}`, "--ttl-hours", "24", "--state-dir", SESSION_STATE_PATH];
        const ok = await session.exec(a.id, args);
        expect(ok.code, ok.stderr).toBe(CLEANUP_EXIT.ran);
        const summary = JSON.parse(ok.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
        expect(summary).toMatchObject({ event: "cleanup.summary", ok: true, expired: 0, deleted: 0, errors: 0 });
        expect(summary.listed).toBeGreaterThanOrEqual(1);
        const bad = await session.exec(a.id, args, { env: { [ENV.connectionToken]: "wrong" } });
        expect(bad.code).toBe(CLEANUP_EXIT.auth);
        expect(bad.stdout).toContain('"error":"connect refused: AUTHENTICATION_FAILED"');
    }, 60_000);

    it("the tool guard confines every session's tools, even with approveAll (red-team inside the container)", async () => {
        const settings = await session.exec(a.id, ["cat", `${COPILOT_HOME}/settings.json`]);
        expect(JSON.parse(settings.stdout)).toEqual({ hooks: { preToolUse: [{ type: "command", bash: "/usr/local/bin/copilot-tool-guard", timeoutSec: 10 }] } });
        const r = await runRedTeam({
            mode: "approveAll",
            targets: { sessionStatePath: SESSION_STATE_PATH, copilotHome: COPILOT_HOME },
            victimClient: client(a.port, TOKEN),
            attackerClient: client(a.port, TOKEN),
            credentials: { provider: { type: "openai", baseUrl: stub.baseUrl }, model: stub.model },
            secrets: new Map([["connection token", TOKEN]]),
            turnTimeoutMs: 60_000,
            onCreated: () => undefined,
        });
        expect(r.leaks).toEqual([]);
        for (const o of r.outcomes) expect(o.result, o.attack).toContain("Denied by preToolUse hook: copilot-fleet tool guard");
    }, 240_000);

    // A same-uid process with no token of its own (what a tool would be if one ran) scans every /proc/<pid>/environ.
    const scanEnv =
        'for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = "$$" ] && continue; ' +
        'if e=$(tr "\\0" "\\n" < $p/environ 2>/dev/null); then echo "$n readable $(printf "%s" "$e" | grep -c COPILOT_CONNECTION_TOKEN=)"; else echo "$n denied"; fi; done';
    const scan = async (id: string) => {
        const r = await session.exec(id, ["env", "-u", ENV.connectionToken, "-u", "LD_PRELOAD", "sh", "-c", scanEnv]);
        return r.stdout.trim().split("\n").filter((l) => !l.startsWith("self"));
    };

    it("keeps the tokens in the container's environment away from same-uid processes (no-dump preload)", async () => {
        const rows = await scan(a.id);
        const top = await podman(["top", a.id, "pid", "args"]);
        const cliPid = top.stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((x) => x[1] === "copilot")?.[0];
        expect(cliPid, top.stdout).toBeDefined();
        expect(rows, rows.join("\n")).toEqual(expect.arrayContaining(["1 denied", `${cliPid} denied`]));
        expect(rows.filter((l) => / readable [1-9]/.test(l)), rows.join("\n")).toEqual([]);
    });

    it("without the preload the same scan reads the token: the control that shows what the preload stops", async () => {
        const port = await freePort();
        const id = await session.start(image, { name: "nopreload", env: { ...serverEnv(port), LD_PRELOAD: "" }, volumes: [], args: argsOnLoopback(port) });
        await waitFor(async () => (await session.exec(id, [HEALTHCHECK_PATH])).code === 0, 60_000, 250, async () => `nopreload never healthy:\n${await session.logs(id)}`);
        const rows = await scan(id);
        expect(rows.filter((l) => / readable [1-9]/.test(l)).length, rows.join("\n")).toBeGreaterThanOrEqual(1);
    }, 120_000);

    it("SIGTERM reaches the CLI through tini (stops well before the kill timeout)", async () => {
        const t0 = Date.now();
        await podman(["stop", "-t", "20", a.id], { timeoutMs: 60_000 });
        const ms = Date.now() - t0;
        const state = await podman(["inspect", "--format", "{{.State.ExitCode}}", a.id]);
        expect(ms).toBeLessThan(10_000);
        // 137 would mean SIGKILL after the timeout.
        expect(state.stdout.trim()).not.toBe("137");
    }, 60_000);
});
