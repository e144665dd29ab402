/**
 * HAProxy (Debian's binary) as the local fleet's TCP load balancer.
 *
 * Two things make "right after a replica dies, the next client still gets a working server" hold:
 * - `option redispatch 1` + `retries`: a connect that is refused (a dead process's port answers RST at
 *   once) is retried on *another* server on every retry, so the client never sees the dead one even
 *   before the health check has marked it down;
 * - a real JSON-RPC health check (`connect` with the token, then `ping`, expecting `pong`), fast `inter`
 *   and `fall 1`, plus `on-marked-down shutdown-sessions` so clients stuck on a dead server are cut
 *   loose instead of hanging. A TCP-connect check alone would pass for a server that accepts but
 *   never answers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { freePort } from "./redis";

export interface HaproxyBackend {
    readonly name: string;
    readonly endpoint: string;
}

export interface HaproxyOptions {
    readonly dir: string;
    readonly backends: readonly HaproxyBackend[];
    readonly connectionToken: string;
    /** Health check interval (ms). Default 500. */
    readonly checkIntervalMs?: number;
    readonly binary?: string;
}

export interface Haproxy {
    readonly endpoint: string;
    readonly port: number;
    readonly pid: number;
    readonly configFile: string;
    stop(): Promise<void>;
}

function frame(id: number, method: string, params: unknown): string {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method, params }), "utf8");
    return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]).toString("hex");
}

/** The haproxy.cfg text. Exported for tests that assert the fault-tolerance options are present. */
export function haproxyConfig(opts: { port: number; backends: readonly HaproxyBackend[]; connectionToken: string; checkIntervalMs?: number }): string {
    const inter = opts.checkIntervalMs ?? 500;
    const connectReq = frame(1, "connect", { token: opts.connectionToken, supportedTaskKinds: [] });
    const pingReq = frame(2, "ping", { message: "haproxy" });
    return [
        "global",
        "    maxconn 2000",
        // Quiet: warnings and errors go to stderr, no syslog needed.
        "    log stderr format raw local0 warning",
        "defaults",
        "    mode tcp",
        "    log global",
        "    timeout connect 1s",
        // Long turns stream over a quiet-looking socket; do not cut idle client sessions early.
        "    timeout client 1h",
        "    timeout server 1h",
        "    retries 3",
        "    option redispatch 1",
        "frontend copilot",
        `    bind 127.0.0.1:${opts.port}`,
        "    default_backend replicas",
        "backend replicas",
        "    balance roundrobin",
        "    option tcp-check",
        "    tcp-check connect",
        `    tcp-check send-binary ${connectReq}`,
        // A wrong token answers with an error and no protocolVersion.
        "    tcp-check expect string protocolVersion",
        `    tcp-check send-binary ${pingReq}`,
        "    tcp-check expect string pong",
        `    default-server inter ${inter} fastinter ${Math.max(100, Math.floor(inter / 2))} downinter ${inter} rise 1 fall 1 on-marked-down shutdown-sessions`,
        ...opts.backends.map((b) => `    server ${b.name} ${b.endpoint} check`),
        "",
    ].join("\n");
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        child.once("exit", () => {
            clearTimeout(t);
            resolve(true);
        });
    });
}

function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port });
        const done = (ok: boolean): void => {
            s.destroy();
            resolve(ok);
        };
        s.setTimeout(500, () => done(false));
        s.on("connect", () => done(true));
        s.on("error", () => done(false));
    });
}

export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
    const binary = opts.binary ?? process.env.HAPROXY ?? "haproxy";
    let lastError = "";
    for (let attempt = 0; attempt < 5; attempt++) {
        const port = await freePort();
        const configFile = path.join(opts.dir, "haproxy.cfg");
        // 0600: the health check carries the connection token.
        writeFileSync(configFile, haproxyConfig({ ...opts, port }), { mode: 0o600 });
        const child = spawn(binary, ["-db", "-f", configFile], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => {
            stderr = (stderr + d.toString("utf8")).slice(-4000);
        });
        const spawnErr = new Promise<string>((r) => child.once("error", (e) => r(e.message)));
        const deadline = Date.now() + 10_000;
        let up = false;
        while (Date.now() < deadline) {
            if (child.exitCode !== null || child.signalCode !== null) break;
            const err = await Promise.race([spawnErr, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
            if (err) throw new Error(`could not start ${binary}: ${err}`);
            if (await canConnect(port)) {
                up = true;
                break;
            }
        }
        if (!up || child.pid === undefined) {
            child.kill("SIGKILL");
            await waitExit(child, 3000);
            lastError = stderr.trim();
            if (/cannot bind|address already in use/i.test(stderr)) continue;
            throw new Error(`haproxy did not start: ${lastError}`);
        }
        let stopping: Promise<void> | undefined;
        return {
            endpoint: `127.0.0.1:${port}`,
            port,
            pid: child.pid,
            configFile,
            stop: () => {
                stopping ??= (async () => {
                    // SIGUSR1 is haproxy's soft stop; we want it gone now: SIGTERM is the hard stop.
                    child.kill("SIGTERM");
                    if (!(await waitExit(child, 3000))) {
                        child.kill("SIGKILL");
                        await waitExit(child, 3000);
                    }
                })();
                return stopping;
            },
        };
    }
    throw new Error(`haproxy could not bind a port: ${lastError}`);
}
