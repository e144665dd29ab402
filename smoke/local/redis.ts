/**
 * A real `redis-server` (Debian's binary) for the local fleet and for tests: loopback only, a free
 * port, a password, its own temp dir, no persistence. `stop()` ends it and removes the dir.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface RedisProcess {
    /** `redis://:<password>@127.0.0.1:<port>` — ready for ioredis. */
    url: string;
    port: number;
    password: string;
    pid: number;
    /** SIGTERM, then SIGKILL after 3 s; removes the temp dir it created. Idempotent. */
    stop(): Promise<void>;
}

export interface StartRedisOptions {
    /** Default: 24 random bytes, hex. */
    password?: string;
    /** Working dir for the config file. Default: a fresh temp dir, removed by `stop()`. A dir you pass is kept. */
    dir?: string;
    /** Binary to run. Default: `REDIS_SERVER` env or `redis-server` on PATH. */
    binary?: string;
    /** Port on 127.0.0.1. Default: a free port (retried if another process takes it first). Set it to restart a stopped Redis on the same URL. */
    port?: number;
    /** How long to wait for the server to answer PING. Default 10 000 ms. */
    startTimeoutMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const PORT_ATTEMPTS = 5;

/** Ask the kernel for a free loopback port. Racy by nature, so `startRedis` retries on bind failure. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            const port = typeof addr === "object" && addr ? addr.port : 0;
            srv.close(() => (port ? resolve(port) : reject(new Error("could not get a free port"))));
        });
    });
}

/** Send a RESP command without a client library so the helper has no dependency on ioredis. */
function pingOnce(port: number, password: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect({ host: "127.0.0.1", port });
        let buf = "";
        const done = (ok: boolean): void => {
            clearTimeout(timer);
            sock.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        sock.on("error", () => done(false));
        sock.on("connect", () => {
            const enc = (args: string[]): string =>
                `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");
            sock.write(enc(["AUTH", password]) + enc(["PING"]));
        });
        sock.on("data", (d) => {
            buf += d.toString("utf8");
            if (buf.includes("+PONG")) done(true);
            else if (buf.includes("-")) done(false);
        });
    });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            child.off("exit", onExit);
            resolve(false);
        }, ms);
        const onExit = (): void => {
            clearTimeout(timer);
            resolve(true);
        };
        child.once("exit", onExit);
    });
}

async function startOnce(port: number, password: string, dir: string, binary: string, timeoutMs: number): Promise<RedisProcess | "retry"> {
    // Config in a file (0600) so the password never shows in `ps`.
    const conf = [
        "bind 127.0.0.1",
        "protected-mode yes",
        `port ${port}`,
        `requirepass "${password}"`,
        `dir "${dir}"`,
        'save ""',
        "appendonly no",
        "daemonize no",
        "loglevel warning",
        'logfile ""',
        "databases 16",
    ].join("\n");
    const confPath = path.join(dir, `redis-${port}.conf`);
    await writeFile(confPath, conf + "\n", { mode: 0o600 });
    const child = spawn(binary, [confPath], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    // With `logfile ""` redis logs to stdout; keep the head of both streams for error messages.
    let stderr = "";
    const keep = (d: Buffer): void => {
        if (stderr.length < 8192) stderr += d.toString("utf8");
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
            if (/Address already in use|bind/i.test(stderr)) return "retry";
            throw new Error(`redis-server exited (code ${child.exitCode}, signal ${child.signalCode}): ${stderr.trim()}`);
        }
        const err = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 0))]);
        if (err) throw new Error(`could not start ${binary}: ${err.message}`);
        if (await pingOnce(port, password, 500)) break;
        if (Date.now() > deadline) {
            child.kill("SIGKILL");
            await waitExit(child, STOP_GRACE_MS);
            throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${timeoutMs} ms: ${stderr.trim()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error("redis-server has no pid");
    let stopping: Promise<void> | undefined;
    return {
        url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
        port,
        password,
        pid,
        stop(): Promise<void> {
            stopping ??= (async () => {
                child.kill("SIGTERM");
                if (!(await waitExit(child, STOP_GRACE_MS))) {
                    child.kill("SIGKILL");
                    await waitExit(child, STOP_GRACE_MS);
                }
            })();
            return stopping;
        },
    };
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
    const password = opts.password ?? randomBytes(24).toString("hex");
    if (/["\\\r\n]/.test(password)) throw new Error("redis password must not contain quotes, backslashes or newlines");
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), "copilot-fleet-redis-")));
    const binary = opts.binary ?? process.env.REDIS_SERVER ?? "redis-server";
    const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    try {
        for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
            const r = await startOnce(opts.port ?? (await freePort()), password, dir, binary, timeoutMs);
            if (r === "retry") {
                if (opts.port !== undefined) throw new Error(`redis-server could not bind 127.0.0.1:${opts.port}: address in use`);
                continue;
            }
            if (!ownDir) return r;
            const stopProcess = r.stop;
            let removing: Promise<void> | undefined;
            return {
                ...r,
                stop(): Promise<void> {
                    removing ??= stopProcess().finally(() => rm(dir, { recursive: true, force: true }));
                    return removing;
                },
            };
        }
        throw new Error(`redis-server could not bind a free port after ${PORT_ATTEMPTS} attempts`);
    } catch (e) {
        if (ownDir) await rm(dir, { recursive: true, force: true });
        throw e;
    }
}
