/**
 * HAProxy (Debian's binary) as the local fleet's TCP load balancer. The config is the one every
 * platform uses (components/contract/haproxy.ts: JSON-RPC health check, redispatch on refused connects).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { haproxyConfig } from "../../components/contract/haproxy";
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
    /** `http://127.0.0.1:P/metrics`: HAProxy's Prometheus exporter (replica health, open connections). */
    readonly metricsUrl: string;
    readonly port: number;
    readonly pid: number;
    readonly configFile: string;
    stop(): Promise<void>;
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
        const metricsPort = await freePort();
        const configFile = path.join(opts.dir, "haproxy.cfg");
        // 0600: the health check carries the connection token.
        writeFileSync(
            configFile,
            haproxyConfig({
                bind: `127.0.0.1:${port}`,
                backends: opts.backends.map((b) => ({ name: b.name, address: b.endpoint })),
                connectionToken: opts.connectionToken,
                checkIntervalMs: opts.checkIntervalMs,
                metricsBind: `127.0.0.1:${metricsPort}`,
            }),
            { mode: 0o600 },
        );
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
            metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
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
