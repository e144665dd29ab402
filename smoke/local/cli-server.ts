/**
 * One real Copilot CLI headless server (the npm package's binary) on 127.0.0.1, configured the way
 * the container is (components/contract/server.ts): private COPILOT_HOME, session state possibly shared, a
 * connection token, offline BYOK against a local model.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, createWriteStream } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV } from "../../components/contract/server";
import { freePort } from "./redis";
import { waitForPing, type ProbeResult } from "../rpc";

/** The CLI binary from `@github/copilot` (its platform package's only export is the executable). */
export function resolveCliBinary(): string {
    if (process.env.COPILOT_CLI_PATH) return process.env.COPILOT_CLI_PATH;
    const pkg = `@github/copilot-${process.platform}-${process.arch}`;
    try {
        return require.resolve(pkg);
    } catch (e) {
        throw new Error(`cannot find the Copilot CLI binary: ${pkg} is not installed (run npm install). ${(e as Error).message}`);
    }
}

/**
 * Where the CLI unpacks itself (~235 MB on first run). Shared by every local replica so only the first
 * start pays for it; `COPILOT_CACHE_HOME` is the variable the CLI reads (measured: it writes `pkg/` there).
 */
export function defaultCliCacheDir(): string {
    return process.env.COPILOT_CACHE_HOME ?? path.join(os.homedir(), ".cache", "copilot");
}

export function cliCacheIsWarm(cacheDir: string): boolean {
    try {
        return readdirSync(path.join(cacheDir, "pkg")).length > 0;
    } catch {
        return false;
    }
}

export interface CliServerOptions {
    readonly name: string;
    /** The replica's private directory: HOME, COPILOT_HOME and its log live here. */
    readonly dir: string;
    readonly connectionToken: string;
    /** When set, `$COPILOT_HOME/session-state` is a symlink to this shared folder (only that path is shared: SQLite on shared storage locks). */
    readonly sharedSessionState?: string;
    /**
     * Offline BYOK against this model. Absent: no model credential and not offline (per-session GitHub
     * tokens; point `COPILOT_DEBUG_GITHUB_API_URL` at smoke/local/fake-github.ts through `extraEnv`).
     */
    readonly provider?: { readonly type: string; readonly baseUrl: string; readonly model: string; readonly apiKey?: string };
    readonly cacheDir: string;
    readonly startTimeoutMs?: number;
    /** Extra CLI arguments (e.g. `--session-idle-timeout`). */
    readonly extraArgs?: readonly string[];
    /** The CLI executable (e.g. an older release for the upgrade test). Default: `resolveCliBinary()`. */
    readonly binary?: string;
    /** Extra environment (e.g. the OpenTelemetry variables `telemetryEnv` renders). */
    readonly extraEnv?: Readonly<Record<string, string>>;
    /**
     * Start the CLI through the image's `copilot-fleet-server`, which installs the server-side tool
     * guard (`copilot-tool-guard`, a preToolUse hook) the way every container does. Default true;
     * `false` runs the bare CLI, the unsafe configuration the red-team test keeps as its control.
     */
    readonly toolGuard?: boolean;
    /** Try this port first (a restarted server keeps its endpoint, as a Service or a container's name does); a busy port falls back to a free one. */
    readonly port?: number;
}

/** The image's tools folder: the local fleet runs the same wrapper and guard the containers run. */
export const IMAGE_TOOLS_DIR = path.resolve(__dirname, "../../images/copilot-cli/tools");

export interface CliServer {
    readonly name: string;
    readonly endpoint: string;
    readonly port: number;
    readonly pid: number;
    readonly copilotHome: string;
    readonly logFile: string;
    readonly child: ChildProcess;
    /** Resolves when the process has exited. */
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    isRunning(): boolean;
    /** Send a signal and wait (bounded) for exit. Returns true if it exited. */
    kill(signal: NodeJS.Signals, waitMs?: number): Promise<boolean>;
    /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
    stop(graceMs?: number): Promise<void>;
}

const PORT_ATTEMPTS = 5;

export async function startCliServer(opts: CliServerOptions): Promise<CliServer> {
    const home = path.join(opts.dir, "home");
    const copilotHome = path.join(home, ".copilot");
    mkdirSync(copilotHome, { recursive: true });
    const stateLink = path.join(copilotHome, "session-state");
    if (opts.sharedSessionState && !existsSync(stateLink)) symlinkSync(opts.sharedSessionState, stateLink, "dir");
    const logFile = path.join(opts.dir, "server.log");
    const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        [ENV.home]: copilotHome,
        COPILOT_CACHE_HOME: opts.cacheDir,
        [ENV.connectionToken]: opts.connectionToken,
    };
    if (opts.provider) {
        Object.assign(env, { [ENV.offline]: "true", [ENV.providerBaseUrl]: opts.provider.baseUrl, [ENV.providerType]: opts.provider.type, [ENV.model]: opts.provider.model });
        if (opts.provider.apiKey) env[ENV.providerApiKey] = opts.provider.apiKey;
    }
    Object.assign(env, opts.extraEnv);
    const binary = opts.binary ?? resolveCliBinary();
    let lastError = "";
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
        const port = attempt === 0 && opts.port !== undefined ? opts.port : await freePort();
        const args = ["--headless", "--host", "127.0.0.1", "--port", String(port), "--no-auto-update", ...(opts.extraArgs ?? [])];
        const guarded = opts.toolGuard ?? true;
        const child = guarded
            ? spawn(path.join(IMAGE_TOOLS_DIR, "copilot-fleet-server"), [binary, ...args], {
                  env: { ...env, COPILOT_TOOL_GUARD: path.join(IMAGE_TOOLS_DIR, "copilot-tool-guard") },
                  cwd: home,
                  stdio: ["ignore", "pipe", "pipe"],
              })
            : spawn(binary, args, { env, cwd: home, stdio: ["ignore", "pipe", "pipe"] });
        const log = createWriteStream(logFile, { flags: "a" });
        let tail = "";
        const onOut = (d: Buffer): void => {
            log.write(d);
            tail = (tail + d.toString("utf8")).slice(-4000);
        };
        child.stdout?.on("data", onOut);
        child.stderr?.on("data", onOut);
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
            child.once("exit", (code, signal) => {
                log.end();
                resolve({ code, signal });
            });
            child.once("error", (err) => {
                tail += `\nspawn error: ${err.message}`;
                log.end();
                resolve({ code: -1, signal: null });
            });
        });
        const endpoint = `127.0.0.1:${port}`;
        const ready = await Promise.race([
            waitForPing(endpoint, opts.connectionToken, opts.startTimeoutMs ?? 60_000, 50),
            exited.then((): ProbeResult => ({ ok: false, error: "exited", ms: 0 })),
        ]);
        if (!ready.ok || child.pid === undefined) {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGKILL");
                await exited;
            }
            lastError = `${ready.error ?? "no answer"}; output: ${tail.trim()}`;
            if (/address already in use|EADDRINUSE/i.test(tail)) continue;
            throw new Error(`Copilot CLI server ${opts.name} did not become ready: ${lastError}`);
        }
        const pid = child.pid;
        const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
        const kill = async (signal: NodeJS.Signals, waitMs = 10_000): Promise<boolean> => {
            if (!isRunning()) return true;
            child.kill(signal);
            return Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), waitMs))]);
        };
        let stopping: Promise<void> | undefined;
        return {
            name: opts.name,
            endpoint,
            port,
            pid,
            copilotHome,
            logFile,
            child,
            exited,
            isRunning,
            kill,
            stop: (graceMs = 5000) => {
                stopping ??= (async () => {
                    if (!(await kill("SIGTERM", graceMs))) await kill("SIGKILL", 5000);
                })();
                return stopping;
            },
        };
    }
    throw new Error(`Copilot CLI server ${opts.name} could not bind a port after ${PORT_ATTEMPTS} attempts: ${lastError}`);
}
