/**
 * suspender-main.js, the file the suspender containers run (built dist, as the ConfigMap and the
 * Docker uploads carry it), as a real process: against a real Copilot CLI server and a fake Docker
 * engine socket it stops the idle server's container and heartbeats; bad settings exit 2 naming the
 * variable, and a malformed users file is reported without echoing a token.
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
}, 120_000);
afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

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
        const users = path.join(dir, "users.json");
        writeFileSync(users, JSON.stringify({ alice: { endpoint: server.endpoint, connectionToken: "tok-alice-0123456789", server: "copilot-u-alice" } }));
        const heartbeat = path.join(dir, "heartbeat");
        const child = spawn(process.execPath, [MAIN], {
            env: { PATH: process.env.PATH ?? "", SUSPENDER_PLATFORM: "docker", DOCKER_HOST: `unix://${sock}`, SUSPENDER_IDLE_MINUTES: "0.05", SUSPENDER_INTERVAL_SECONDS: "0.5", SUSPENDER_USERS_FILE: users, SUSPENDER_HEARTBEAT_FILE: heartbeat },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        try {
            const deadline = Date.now() + 20_000;
            // The stop, then the line the suspender logs once the engine answered it.
            while ((running || !/"action":"suspended"/.test(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
            expect(running).toBe(false);
            expect(calls).toContain("POST /containers/copilot-u-alice/stop?t=10");
            // The window (3 s) counted from when it first saw the server: no stop in the first round.
            // Complete lines only: the child may be writing the next one.
            const lines = out
                .slice(0, out.lastIndexOf("\n"))
                .split("\n")
                .map((l) => JSON.parse(l) as { event: string; action?: string; user?: string; busy?: number });
            expect(lines[0]).toMatchObject({ event: "suspend.summary", busy: 1 });
            expect(lines.some((l) => l.event === "suspend.user" && l.action === "suspended" && l.user === "alice")).toBe(true);
            expect(JSON.parse(readFileSync(heartbeat, "utf8"))).toMatchObject({ errors: 0 });
            expect(out).not.toContain("tok-alice");
        } finally {
            child.kill("SIGTERM");
            await new Promise((r) => child.once("exit", r));
            engine.close();
        }
    }, 40_000);

    it("exits 2 naming the variable on bad settings", () => {
        const r = run({ SUSPENDER_PLATFORM: "docker", SUSPENDER_IDLE_MINUTES: "soon", SUSPENDER_USERS_FILE: "/nope" });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain('SUSPENDER_IDLE_MINUTES "soon" is not a positive number');
        const p = run({ SUSPENDER_PLATFORM: "nomad", SUSPENDER_IDLE_MINUTES: "30", SUSPENDER_USERS_FILE: path.join(dir, "users.json") });
        expect(p.status).toBe(2);
        expect(p.stderr).toContain('SUSPENDER_PLATFORM "nomad" is not accepted; use "kubernetes" or "docker"');
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
