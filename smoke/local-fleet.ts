/**
 * The local fleet: the same topology as a shared or per-user deployment, as real processes on
 * 127.0.0.1 — N Copilot CLI servers (one shared session-state folder, a private COPILOT_HOME each),
 * HAProxy in front, Redis with a password, and a stub model for offline BYOK turns.
 *
 * CLI:  npm run fleet:local -- --replicas 3 --outputs fleet.json [--mode per-user --users a,b] [--keep]
 * Lib:  const fleet = await startLocalFleet({ replicas: 2 }); ... await fleet.stop();
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { FleetOutputs, ReplicaOutput, UserOutput } from "../components/contract/outputs";
import { cliCacheIsWarm, defaultCliCacheDir, startCliServer, type CliServer } from "./local/cli-server";
import { startHaproxy, type Haproxy } from "./local/haproxy";
import { freePort, startRedis, type RedisProcess } from "./local/redis";
import * as http from "node:http";
import { listenOnLoopback } from "./local/loopback";
import { startStubModel, type StubModel, type StubModelOptions } from "./local/stub-model";
import { GITHUB_API_URL_ENV, startFakeGitHub, type FakeGitHub } from "./local/fake-github";
import { waitForPing } from "./rpc";
import { IdleSuspender, SUSPENDED_MARKER, type ServerControl } from "@copilot-fleet/client";

export interface LocalFleetOptions {
    /** shared (default) or per-user. */
    readonly mode?: "shared" | "per-user";
    /** shared mode: number of CLI servers. Default 2. */
    readonly replicas?: number;
    /** per-user mode: user ids (one server each). */
    readonly users?: readonly string[];
    /** Keep the temp dir on stop (for debugging). */
    readonly keep?: boolean;
    /** Start Redis (shared mode). Default true. */
    readonly redis?: boolean;
    readonly stubModel?: StubModelOptions;
    /**
     * "provider" (default): offline BYOK against the stub model. "perSession": servers hold no model
     * credential; sessions pass a `gitHubToken` that a fake GitHub API (smoke/local/fake-github.ts)
     * resolves, and model calls still reach the stub.
     */
    readonly credentials?: "provider" | "perSession";
    /** Start the servers through the image's tool guard wrapper, as containers do. Default true. */
    readonly toolGuard?: boolean;
    /** perSession: the tokens the fake GitHub accepts (token → login). */
    readonly gitHubUsers?: Readonly<Record<string, string>>;
    /** HAProxy health-check interval (ms). */
    readonly checkIntervalMs?: number;
    /** Parent dir for the fleet's temp dir. Default os.tmpdir(). */
    readonly baseDir?: string;
    /**
     * per-user mode: run the idle suspender (the same code the fleet's suspender container runs) in this
     * process, stopping servers idle this long (ms). Default off. `fleet.control` can wake them either way.
     */
    readonly idleSuspendMs?: number;
    /** Time between the suspender's rounds (ms). Default: its own (a tenth of the window, 5–60 s). */
    readonly suspendIntervalMs?: number;
    /** per-user mode: users that are `suspended: true` in config: never started, and a wake refuses them. */
    readonly suspendedUsers?: readonly string[];
    /** Log progress lines here (the CLI passes console.error). */
    readonly log?: (line: string) => void;
}

export interface LocalFleet {
    readonly outputs: FleetOutputs;
    readonly dir: string;
    /** shared mode: the folder every replica's `$COPILOT_HOME/session-state` points to. */
    readonly sessionStatePath?: string;
    readonly servers: ReadonlyMap<string, CliServer>;
    readonly stub: StubModel;
    /** perSession: the fake GitHub API the servers resolve session tokens against. */
    readonly github?: FakeGitHub;
    readonly redis?: RedisProcess;
    readonly haproxy?: Haproxy;
    server(name: string): CliServer;
    /** Signal one replica and wait (bounded) until it has exited. */
    killReplica(name: string, signal?: NodeJS.Signals): Promise<void>;
    /**
     * per-user mode: start, stop and inspect one user's server, like the platforms' controls in
     * `@copilot-fleet/client` (pass it to `ensureRunning`). A restarted server keeps its port when it can.
     */
    readonly control: ServerControl;
    /** The idle suspender, when `idleSuspendMs` is set. */
    readonly suspender?: IdleSuspender;
    /** Stops everything this fleet started; removes the temp dir unless `keep`. Idempotent. */
    stop(): Promise<void>;
}

const USER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

function token(): string {
    return randomBytes(32).toString("base64url");
}

export async function startLocalFleet(opts: LocalFleetOptions = {}): Promise<LocalFleet> {
    const mode = opts.mode ?? "shared";
    const log = opts.log ?? (() => undefined);
    const names: string[] =
        mode === "shared" ? Array.from({ length: opts.replicas ?? 2 }, (_, i) => `replica-${i}`) : [...(opts.users ?? [])];
    if (mode === "shared" && (names.length < 1 || names.length > 32)) throw new Error("--replicas must be between 1 and 32");
    if (mode === "per-user") {
        if (names.length === 0) throw new Error("per-user mode needs --users a,b");
        for (const u of names) if (!USER_ID.test(u)) throw new Error(`user id ${JSON.stringify(u)} must match ${USER_ID}`);
        if (new Set(names).size !== names.length) throw new Error("user ids must be unique");
    }

    const dir = mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), "copilot-fleet-local-"));
    const servers = new Map<string, CliServer>();
    let stub: StubModel | undefined;
    let github: FakeGitHub | undefined;
    let redis: RedisProcess | undefined;
    let haproxy: Haproxy | undefined;
    // If this process dies without stop(), do not leave CLI servers behind: they outlive their parent.
    const pids = new Set<number>();
    const onExit = (): void => {
        for (const pid of pids) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* already gone */
            }
        }
    };
    process.on("exit", onExit);

    let stopping: Promise<void> | undefined;
    let stopSuspender: (() => Promise<void>) | undefined;
    let stopControl: (() => Promise<void>) | undefined;
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            await stopSuspender?.();
            await stopControl?.();
            await haproxy?.stop();
            await Promise.all([...servers.values()].map((s) => s.stop()));
            await redis?.stop();
            await stub?.stop();
            await github?.stop();
            process.off("exit", onExit);
            if (!opts.keep) rmSync(dir, { recursive: true, force: true });
        })();
        return stopping;
    };

    try {
        stub = await startStubModel(opts.stubModel);
        const perSession = opts.credentials === "perSession";
        const provider = perSession ? undefined : { type: "openai", baseUrl: stub.baseUrl, model: stub.model };
        if (perSession) github = await startFakeGitHub({ modelApiUrl: `http://127.0.0.1:${stub.port}`, users: opts.gitHubUsers ?? {} });
        const credentialOutputs = { credentials: perSession ? ("perSession" as const) : ("provider" as const), ...(provider ? { provider } : {}) };
        const cacheDir = defaultCliCacheDir();
        // Canonical (no symlink on the way): tenant permission rules are matched against real paths.
        const sessionStatePath = mode === "shared" ? path.join(realpathSync(dir), "shared", "session-state") : undefined;
        if (sessionStatePath) mkdirSync(sessionStatePath, { recursive: true });
        const sharedToken = mode === "shared" ? token() : undefined;
        const tokens = new Map(names.map((n) => [n, sharedToken ?? token()]));
        const startOne = async (name: string, port?: number): Promise<void> => {
            const s = await startCliServer({
                port,
                name,
                dir: path.join(dir, name),
                connectionToken: tokens.get(name) as string,
                sharedSessionState: sessionStatePath,
                provider,
                cacheDir,
                toolGuard: opts.toolGuard ?? true,
                ...(github ? { extraEnv: { [GITHUB_API_URL_ENV]: github.url } } : {}),
            });
            servers.set(name, s);
            pids.add(s.pid);
            void s.exited.then(() => pids.delete(s.pid));
            log(`${name}: ${s.endpoint} (pid ${s.pid})`);
        };
        // The first start unpacks ~235 MB into the cache; let one server do that before the rest share it.
        const suspendedInConfig = new Set(mode === "per-user" ? (opts.suspendedUsers ?? []) : []);
        for (const u of suspendedInConfig) if (!names.includes(u)) throw new Error(`suspended user ${JSON.stringify(u)} is not in users`);
        // Suspended users get a port (their endpoint exists, as a Service does) but no process.
        const reserved = new Map<string, number>();
        for (const u of suspendedInConfig) reserved.set(u, await freePort());
        const initial = names.filter((n) => !suspendedInConfig.has(n));
        const parallel = cliCacheIsWarm(cacheDir) ? initial : initial.slice(1);
        if (parallel.length !== initial.length) await startOne(initial[0]);
        await Promise.all(parallel.map((n) => startOne(n)));
        const portOf = (n: string): number => servers.get(n)?.port ?? (reserved.get(n) as number);
        // One operation at a time per user: a stop racing a start runs after it, and the other way round.
        const chains = new Map<string, Promise<unknown>>();
        const serial = <T>(user: string, op: () => Promise<T>): Promise<T> => {
            const next = (chains.get(user) ?? Promise.resolve()).then(op, op);
            chains.set(user, next.catch(() => undefined));
            return next;
        };
        const wantedAt = new Map<string, number>();
        const known = (user: string): void => {
            if (mode !== "per-user" || !names.includes(user)) throw new Error(`no user ${JSON.stringify(user)} in this local fleet`);
        };
        const control: ServerControl = {
            platform: "local",
            // Behind the user's pending start or stop, as a platform API answers after it accepted the change.
            state: (user) =>
                serial(user, async () => {
                    known(user);
                    const s = servers.get(user);
                    const wanted = wantedAt.get(user);
                    return { running: s?.isRunning() === true, suspendedInConfig: suspendedInConfig.has(user), endpoint: `127.0.0.1:${portOf(user)}`, ...(wanted ? { wantedAtMs: wanted } : {}) };
                }),
            async touch(user) {
                known(user);
                wantedAt.set(user, Date.now());
            },
            start: (user) =>
                serial(user, async () => {
                    known(user);
                    if (suspendedInConfig.has(user)) throw new Error(`${user} is suspended in config (${SUSPENDED_MARKER}=true)`);
                    if (servers.get(user)?.isRunning()) return;
                    await startOne(user, portOf(user));
                }),
            stop: (user) =>
                serial(user, async () => {
                    known(user);
                    const s = servers.get(user);
                    if (s?.isRunning()) {
                        await s.stop();
                        log(`${user}: stopped (pid ${s.pid})`);
                    }
                }),
        };

        // The control over loopback HTTP too, for backends in another process (localFleetControl).
        let controlServer: http.Server;
        let controlInfo: { controlUrl: string; controlToken: string } | undefined;
        if (mode === "per-user") {
            const controlToken = token();
            controlServer = http.createServer((req, res) => {
                const m = /^\/users\/([^/]+)(\/start|\/stop|\/touch)?$/.exec(req.url ?? "");
                const reply = (status: number, body?: unknown): void => {
                    res.writeHead(status, { "Content-Type": "application/json" });
                    res.end(body === undefined ? "" : JSON.stringify(body));
                };
                if (req.headers.authorization !== `Bearer ${controlToken}`) return reply(401, { message: "wrong or missing bearer token" });
                if (!m) return reply(404, { message: "use /users/<id>[/start|/stop|/touch]" });
                const id = decodeURIComponent(m[1]);
                const verb = m[2] ?? "";
                const op = req.method === "GET" && verb === "" ? control.state(id) : req.method === "POST" && verb === "/start" ? control.start(id) : req.method === "POST" && verb === "/stop" ? control.stop(id) : req.method === "POST" && verb === "/touch" ? (control.touch as (u: string) => Promise<void>)(id) : undefined;
                if (!op) return reply(405, { message: `${req.method} ${verb || "/"} is not accepted` });
                (op as Promise<unknown>).then(
                    (r) => reply(r === undefined ? 204 : 200, r),
                    (e: unknown) => reply(409, { message: (e as Error).message }),
                );
            });
            const listener = await listenOnLoopback(controlServer);
            controlInfo = { controlUrl: `http://127.0.0.1:${listener.port}`, controlToken };
            stopControl = () => listener.stop();
        }
        let outputs: FleetOutputs;
        if (mode === "shared") {
            if (opts.redis !== false) {
                mkdirSync(path.join(dir, "redis"), { recursive: true });
                redis = await startRedis({ dir: path.join(dir, "redis") });
                pids.add(redis.pid);
                log(`redis: 127.0.0.1:${redis.port}`);
            }
            mkdirSync(path.join(dir, "haproxy"), { recursive: true });
            haproxy = await startHaproxy({
                dir: path.join(dir, "haproxy"),
                backends: names.map((n) => ({ name: n, endpoint: (servers.get(n) as CliServer).endpoint })),
                connectionToken: sharedToken as string,
                checkIntervalMs: opts.checkIntervalMs,
            });
            pids.add(haproxy.pid);
            const lbReady = await waitForPing(haproxy.endpoint, sharedToken as string, 10_000);
            if (!lbReady.ok) throw new Error(`load balancer ${haproxy.endpoint} does not answer ping: ${lbReady.error}`);
            log(`haproxy: ${haproxy.endpoint} (Prometheus: ${haproxy.metricsUrl})`);
            const replicas: ReplicaOutput[] = names.map((n) => {
                const s = servers.get(n) as CliServer;
                return { name: n, endpoint: s.endpoint, pid: s.pid };
            });
            outputs = {
                platform: "local",
                toolGuard: opts.toolGuard ?? true,
                mode: "shared",
                endpoint: haproxy.endpoint,
                connectionToken: sharedToken,
                replicas,
                ...(redis ? { redisUrl: redis.url } : {}),
                ...credentialOutputs,
                sessionStatePath,
            };
        } else {
            const users: Record<string, UserOutput> = {};
            for (const n of names) users[n] = { endpoint: `127.0.0.1:${portOf(n)}`, connectionToken: tokens.get(n) as string, server: n, suspended: suspendedInConfig.has(n) };
            outputs = {
                platform: "local",
                toolGuard: opts.toolGuard ?? true,
                mode: "per-user",
                replicas: initial.map((n) => ({ name: n, endpoint: (servers.get(n) as CliServer).endpoint, pid: (servers.get(n) as CliServer).pid })),
                ...credentialOutputs,
                users,
                ...(controlInfo ? { idleSuspend: { ...(opts.idleSuspendMs !== undefined ? { minutes: opts.idleSuspendMs / 60_000 } : {}), ...controlInfo } } : {}),
            };
        }

        let suspender: IdleSuspender | undefined;
        if (mode === "per-user" && opts.idleSuspendMs !== undefined) {
            suspender = new IdleSuspender({
                users: names.map((n) => ({ id: n, endpoint: `127.0.0.1:${portOf(n)}`, connectionToken: tokens.get(n) as string })),
                control,
                idleMs: opts.idleSuspendMs,
                intervalMs: opts.suspendIntervalMs,
                log: (e) => log(`suspender ${JSON.stringify(e)}`),
            });
            suspender.start();
            stopSuspender = () => (suspender as IdleSuspender).stop();
        }
        const stubRef = stub;
        return {
            control,
            suspender,
            outputs,
            dir,
            sessionStatePath,
            servers,
            stub: stubRef,
            github,
            redis,
            haproxy,
            server(name: string): CliServer {
                const s = servers.get(name);
                if (!s) throw new Error(`no replica named ${name}`);
                return s;
            },
            async killReplica(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
                const s = servers.get(name);
                if (!s) throw new Error(`no replica named ${name}`);
                if (!(await s.kill(signal, 15_000))) throw new Error(`${name} (pid ${s.pid}) did not exit within 15 s of ${signal}`);
            },
            stop,
        };
    } catch (e) {
        await stop();
        throw e;
    }
}

/** Writes the outputs file (0600: it holds the connection token and Redis password). */
export function writeOutputsFile(file: string, outputs: FleetOutputs): void {
    writeFileSync(file, JSON.stringify(outputs, null, 2) + "\n", { mode: 0o600 });
}

interface FleetCliArgs {
    replicas: number;
    outputs?: string;
    mode: "shared" | "per-user";
    users: string[];
    keep: boolean;
    idleSuspendMinutes?: number;
}

export function parseFleetArgs(argv: readonly string[]): FleetCliArgs {
    const args: FleetCliArgs = { replicas: 2, mode: "shared", users: [], keep: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = (): string => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a === "--replicas") {
            args.replicas = Number(next());
            if (!Number.isInteger(args.replicas)) throw new Error("--replicas must be an integer");
        } else if (a === "--outputs") args.outputs = next();
        else if (a === "--mode") {
            const m = next();
            if (m !== "shared" && m !== "per-user") throw new Error("--mode must be shared or per-user");
            args.mode = m;
        } else if (a === "--users") args.users = next().split(",").map((u) => u.trim()).filter(Boolean);
        else if (a === "--keep") args.keep = true;
        else if (a === "--idle-suspend-minutes") {
            const n = Number(next());
            if (!(n > 0)) throw new Error("--idle-suspend-minutes must be a positive number (fractions allowed here, for demos)");
            args.idleSuspendMinutes = n;
        }
        else if (a === "--help" || a === "-h") {
            throw new Error("usage: fleet:local -- --replicas N --outputs file.json [--mode shared|per-user] [--users a,b] [--idle-suspend-minutes N] [--keep]");
        } else throw new Error(`unknown argument ${a}`);
    }
    return args;
}

async function main(): Promise<void> {
    const args = parseFleetArgs(process.argv.slice(2));
    // A stale file from an earlier run would point clients at dead processes: it only exists while healthy.
    if (args.outputs) rmSync(args.outputs, { force: true });
    const log = (l: string): void => console.error(`[fleet] ${l}`);
    const fleet = await startLocalFleet({
        mode: args.mode,
        replicas: args.replicas,
        users: args.users,
        keep: args.keep,
        log,
        ...(args.idleSuspendMinutes !== undefined ? { idleSuspendMs: args.idleSuspendMinutes * 60_000 } : {}),
    });
    let shuttingDown = false;
    const shutdown = (sig: string): void => {
        if (shuttingDown) return;
        shuttingDown = true;
        log(`${sig}: stopping`);
        if (args.outputs) rmSync(args.outputs, { force: true });
        void fleet.stop().then(
            () => process.exit(0),
            (e: unknown) => {
                console.error(e);
                process.exit(1);
            },
        );
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    if (args.outputs) {
        writeOutputsFile(args.outputs, fleet.outputs);
        log(`outputs written to ${args.outputs}`);
    } else {
        console.log(JSON.stringify(fleet.outputs, null, 2));
    }
    log(`ready (dir ${fleet.dir}); Ctrl-C to stop`);
    // Report replicas that die on their own: the fleet keeps running so fault drills can continue.
    for (const s of fleet.servers.values()) {
        void s.exited.then((r) => {
            if (!shuttingDown) log(`${s.name} (pid ${s.pid}) exited: code ${r.code} signal ${r.signal}`);
        });
    }
    // Stay in the foreground until a signal arrives.
    await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(`[fleet] ${(e as Error).message}`);
        process.exit(1);
    });
}
