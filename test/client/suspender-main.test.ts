/**
 * suspender-main.js, the file the suspender containers run (built dist, as the ConfigMap and the
 * Docker uploads carry it), as a real process against a real Copilot CLI server: with a fake Docker
 * engine socket it stops the idle server's container and heartbeats; with a fake ARM and metadata
 * service (the documented REST shapes) it takes its identity's token, dials the address ARM reports
 * and stops the group; bad settings exit 2 naming the variable, and a malformed users file is
 * reported without echoing a token. Real Azure is not reachable from here.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCliCacheDir, startCliServer, type CliServer } from "../../smoke/local/cli-server";

const MAIN = path.resolve(__dirname, "../../packages/client/dist/suspender-main.js");
let dir: string;
let server: CliServer;
beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm run build -w @copilot-fleet/client`);
    dir = mkdtempSync(path.join(os.tmpdir(), "suspender-main-"));
    server = await startCliServer({ name: "alice", dir: path.join(dir, "alice"), connectionToken: "tok-alice-0123456789", cacheDir: defaultCliCacheDir() });
    // A well-formed users file for the settings tests (each names a bad variable, not a bad file).
    writeFileSync(path.join(dir, "users.json"), JSON.stringify({ alice: { endpoint: server.endpoint, connectionToken: "tok-alice-0123456789", server: "copilot-u-alice" } }));
}, 120_000);
afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
    const s = http.createServer(handler);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    return { server: s, url: `http://127.0.0.1:${(s.address() as { port: number }).port}` };
}

interface LogLine {
    event: string;
    action?: string;
    user?: string;
    busy?: number;
}

/** Runs suspender-main.js with a 3 s window until `done()` and the "suspended" line it logs after the stop; then SIGTERM. */
async function runUntilSuspended(env: Record<string, string>, users: Record<string, { endpoint: string; connectionToken: string; server: string; companions?: string[] }>, done: () => boolean) {
    const usersFile = path.join(dir, `users-${env.SUSPENDER_PLATFORM}.json`);
    writeFileSync(usersFile, JSON.stringify(users));
    const heartbeatFile = path.join(dir, `heartbeat-${env.SUSPENDER_PLATFORM}`);
    const child = spawn(process.execPath, [MAIN], {
        env: { PATH: process.env.PATH ?? "", SUSPENDER_IDLE_MINUTES: "0.05", SUSPENDER_INTERVAL_SECONDS: "0.5", SUSPENDER_USERS_FILE: usersFile, SUSPENDER_HEARTBEAT_FILE: heartbeatFile, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
        const deadline = Date.now() + 20_000;
        while ((!done() || !/"action":"suspended"/.test(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        // Complete lines only: the child may be writing the next one.
        const lines = out
            .slice(0, out.lastIndexOf("\n"))
            .split("\n")
            .map((l) => JSON.parse(l) as LogLine);
        return { lines, out, heartbeat: JSON.parse(readFileSync(heartbeatFile, "utf8")) as Record<string, number> };
    } finally {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
    }
}

const run = (env: Record<string, string>) => spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 10_000 });

describe("suspender-main.js", () => {
    it("stops an idle server's container through the engine socket, and writes its heartbeat", async () => {
        const sock = path.join(dir, "docker.sock");
        const calls: string[] = [];
        let running = true;
        const engine = http.createServer((req, res) => {
            calls.push(`${req.method} ${req.url}`);
            if (req.method === "POST" && req.url?.startsWith("/containers/copilot-u-alice/stop")) running = false;
            res.writeHead(req.method === "GET" ? 200 : 204, { "Content-Type": "application/json" });
            res.end(req.method === "GET" ? JSON.stringify({ State: { Running: running }, Config: { Labels: { "copilot-fleet.github.com/suspended": "false" } } }) : "");
        });
        await new Promise<void>((r) => engine.listen(sock, () => r()));
        try {
            const { lines, heartbeat, out } = await runUntilSuspended(
                { SUSPENDER_PLATFORM: "docker", DOCKER_HOST: `unix://${sock}` },
                { alice: { endpoint: server.endpoint, connectionToken: "tok-alice-0123456789", server: "copilot-u-alice", companions: ["copilot-u-alice-session-cleanup"] } },
                () => !running,
            );
            expect(running).toBe(false);
            // While the server runs its companion is started each round (a backend's wake starts only the server); it stops after the server.
            const posts = calls.filter((c) => c.startsWith("POST"));
            expect(posts.slice(-2)).toEqual(["POST /containers/copilot-u-alice/stop?t=10", "POST /containers/copilot-u-alice-session-cleanup/stop?t=10"]);
            expect(posts.slice(0, -2).length).toBeGreaterThan(0);
            expect(new Set(posts.slice(0, -2))).toEqual(new Set(["POST /containers/copilot-u-alice-session-cleanup/start"]));
            // The window (3 s) counted from when it first saw the server: no stop in the first round.
            expect(lines[0]).toMatchObject({ event: "suspend.summary", busy: 1 });
            expect(lines.some((l) => l.event === "suspend.user" && l.action === "suspended" && l.user === "alice")).toBe(true);
            expect(heartbeat).toMatchObject({ errors: 0 });
            expect(out).not.toContain("tok-alice");
        } finally {
            engine.close();
        }
    }, 40_000);

    it("aci: takes its identity's token from the metadata service, dials the address ARM reports now, and stops the idle group", async () => {
        const calls: string[] = [];
        let running = true;
        const imds = await listen((req, res) => {
            calls.push(`IMDS ${req.headers.metadata} ${req.url}`);
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ access_token: "arm-token-from-imds", expires_on: String(Math.floor(Date.now() / 1000) + 3600) }));
        });
        const group = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.ContainerInstance/containerGroups/copilot-u-alice";
        const [ip, port] = server.endpoint.split(":");
        const arm = await listen((req, res) => {
            calls.push(`ARM ${req.method} ${req.url} ${req.headers.authorization === "Bearer arm-token-from-imds" ? "authorized" : "unauthorized"}`);
            if (req.headers.authorization !== "Bearer arm-token-from-imds") {
                res.writeHead(401).end();
            } else if (req.method === "GET" && req.url === `${group}?api-version=2023-05-01`) {
                res.writeHead(200, { "Content-Type": "application/json" });
                res.end(JSON.stringify({ tags: { "copilot-fleet.github.com.suspended": "false" }, properties: { instanceView: { state: running ? "Running" : "Stopped" }, ipAddress: { ip, ports: [{ port: Number(port) }] } } }));
            } else if (req.method === "POST" && req.url === `${group}/stop?api-version=2023-05-01`) {
                running = false;
                res.writeHead(204).end();
            } else {
                res.writeHead(404).end();
            }
        });
        try {
            const { lines, heartbeat, out } = await runUntilSuspended(
                {
                    SUSPENDER_PLATFORM: "aci",
                    SUSPENDER_SUBSCRIPTION_ID: "sub-1",
                    SUSPENDER_RESOURCE_GROUP: "rg-1",
                    SUSPENDER_AZURE_CLIENT_ID: "client-1",
                    SUSPENDER_ARM_ENDPOINT: arm.url,
                    SUSPENDER_IMDS_ENDPOINT: imds.url,
                },
                // A stale address (the group came back on another IP): the suspender must dial the one ARM reports.
                { alice: { endpoint: "127.0.0.1:9", connectionToken: "tok-alice-0123456789", server: "copilot-u-alice" } },
                () => !running,
            );
            expect(running).toBe(false);
            expect(lines[0]).toMatchObject({ event: "suspend.summary", busy: 1, unreachable: 0 });
            expect(heartbeat).toMatchObject({ errors: 0 });
            expect(calls.filter((c) => c.startsWith("IMDS"))).toEqual(["IMDS true /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F&client_id=client-1"]);
            expect(calls).toContain(`ARM POST ${group}/stop?api-version=2023-05-01 authorized`);
            expect(calls.filter((c) => c.endsWith("unauthorized"))).toEqual([]);
            expect(out).not.toContain("tok-alice");
            expect(out).not.toContain("arm-token-from-imds");
        } finally {
            imds.server.close();
            arm.server.close();
        }
    }, 40_000);

    it("aci: exits 2 naming a missing setting", () => {
        const r = run({ SUSPENDER_PLATFORM: "aci", SUSPENDER_IDLE_MINUTES: "30", SUSPENDER_USERS_FILE: path.join(dir, "users.json"), SUSPENDER_SUBSCRIPTION_ID: "sub-1" });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain("SUSPENDER_RESOURCE_GROUP is not set (platform aci)");
    });

    it("exits 2 naming the variable on bad settings", () => {
        const r = run({ SUSPENDER_PLATFORM: "docker", SUSPENDER_IDLE_MINUTES: "soon", SUSPENDER_USERS_FILE: "/nope" });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain('SUSPENDER_IDLE_MINUTES "soon" is not a positive number');
        const p = run({ SUSPENDER_PLATFORM: "nomad", SUSPENDER_IDLE_MINUTES: "30", SUSPENDER_USERS_FILE: path.join(dir, "users.json") });
        expect(p.status).toBe(2);
        expect(p.stderr).toContain('SUSPENDER_PLATFORM "nomad" is not accepted; use "kubernetes", "docker" or "aci"');
    });

    it("reports a malformed users file without echoing a token", () => {
        const bad = path.join(dir, "bad.json");
        writeFileSync(bad, JSON.stringify({ bob: { endpoint: "x:1", connectionToken: "tok-bob-secret-value" } }));
        const r = run({ SUSPENDER_PLATFORM: "docker", SUSPENDER_IDLE_MINUTES: "30", SUSPENDER_USERS_FILE: bad });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain('user "bob" needs string endpoint, connectionToken and server');
        expect(r.stderr).not.toContain("tok-bob");
    });
});
