/**
 * The session cleanup contract, platform-neutral like the server's (./server.ts): the in-image tool
 * that deletes sessions older than a TTL, its arguments, probes and schedule. Kubernetes runs it as a
 * CronJob (or a per-user sidecar), ACI and Docker as a long-running sidecar.
 */
import { CLI_GID, CLI_UID, ENV, HEALTHCHECK_PATH, PlainEnvVar, ProbeSpec, SECRET_KEYS, SecretEnvVar, ServerResources, SESSION_STATE_PATH } from "./server";

/** The in-image cleanup tool: deletes sessions older than a TTL through `session.list`/`session.delete`. */
export const CLEANUP_PATH = "/usr/local/bin/copilot-session-cleanup";
/** How often cleanup runs when `sessionCleanupIntervalMinutes` is not set. */
export const DEFAULT_CLEANUP_INTERVAL_MINUTES = 60;
/**
 * The tool is a ~40 KB C program; measured RSS is ~1 MB idle in loop mode and grows only with the
 * size of one `session.list` answer (bounded at 8 MiB of JSON, ~30 MiB worst case while parsing).
 */
export const CLEANUP_RESOURCES: ServerResources = {
    cpuRequest: "10m",
    cpuLimit: "200m",
    memoryRequest: "16Mi",
    memoryLimit: "64Mi",
};
/** Exit codes of a one-shot run (a CronJob's pod status shows which). */
export const CLEANUP_EXIT = { ran: 0, sessionErrors: 1, usage: 2, connect: 3, auth: 4 } as const;

export interface CleanupSpec {
    /** Arguments after the image entrypoint (tini execs them). */
    readonly args: readonly string[];
    readonly env: readonly PlainEnvVar[];
    /** The connection token, from the same secret key the servers read. */
    readonly secretEnv: readonly SecretEnvVar[];
    /** Where the session-state volume is mounted (the tool inspects in-use lock files there). */
    readonly sessionStatePath: string;
    readonly uid: number;
    readonly gid: number;
    readonly resources: ServerResources;
    /**
     * Readiness and liveness: the in-image health check against the cleanup's own endpoint, i.e. "this
     * container can reach and authenticate to its server", the one thing a run needs. Platforms whose
     * policy requires probes on every fleet container (the sidecar shares the server pod) render them.
     */
    readonly readinessProbe: ProbeSpec;
    readonly livenessProbe: ProbeSpec;
    /** "once": one run per scheduled job (Kubernetes CronJob); "loop": a long-running container. */
    readonly mode: "once" | "loop";
    readonly intervalMinutes: number;
    /** Standard 5-field cron line for schedulers (Kubernetes CronJob) that run `mode: "once"`. */
    readonly schedule: string;
    /** Upper bound for one run (request timeout × a margin); schedulers kill a run that exceeds it. */
    readonly runDeadlineSeconds: number;
}

export interface CleanupSpecOptions {
    /** `host:port` of the fleet's servers (Service / container name); any replica can delete any session. */
    readonly endpoint: string;
    readonly ttlHours: number;
    readonly intervalMinutes?: number;
    readonly mode: "once" | "loop";
    readonly dryRun?: boolean;
    readonly resources?: Partial<ServerResources>;
}

/** What a stack configures about cleanup; each fleet adds its own endpoint and run mode. */
export type CleanupSettings = Omit<CleanupSpecOptions, "endpoint" | "mode">;

/** Per-request timeout the tool gets; a list or delete on a healthy server takes milliseconds. */
const CLEANUP_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Interval minutes → a cron line that fires at that interval on the clock (so runs do not drift):
 * divisors of 60 below an hour, whole hours that divide a day, or once a day. Minute 7 keeps hourly
 * runs off the top of the hour, when other jobs start.
 */
export function cleanupSchedule(intervalMinutes: number): string {
    if (!isCleanupInterval(intervalMinutes)) {
        throw new Error(`cleanup interval ${intervalMinutes} min cannot be a cron schedule; use ${CLEANUP_INTERVAL_HINT}`);
    }
    if (intervalMinutes < 60) return `*/${intervalMinutes} * * * *`;
    const hours = intervalMinutes / 60;
    return hours === 1 ? "7 * * * *" : hours === 24 ? "7 0 * * *" : `7 */${hours} * * *`;
}

export const CLEANUP_INTERVAL_HINT = "minutes that divide an hour (5, 6, 10, 12, 15, 20, 30) or whole hours that divide a day (60, 120, 180, 240, 360, 480, 720, 1440)";

/** Intervals that a cron line can express exactly (and that are not too frequent to be sensible). */
export function isCleanupInterval(m: number): boolean {
    if (!Number.isInteger(m) || m < 5 || m > 1440) return false;
    return m < 60 ? 60 % m === 0 : m % 60 === 0 && 24 % (m / 60) === 0;
}

/** `host:port` → its parts (the cleanup and its health check take them apart); throws on anything else. */
export function splitEndpoint(endpoint: string): { host: string; port: string } {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`cleanup endpoint must be host:port, got ${JSON.stringify(endpoint)}`);
    return { host: m[1].replace(/^\[|\]$/g, ""), port: m[2] };
}

export function buildCleanupSpec(opts: CleanupSpecOptions): CleanupSpec {
    const intervalMinutes = opts.intervalMinutes ?? DEFAULT_CLEANUP_INTERVAL_MINUTES;
    const schedule = cleanupSchedule(intervalMinutes);
    const args = [
        CLEANUP_PATH,
        "--endpoint",
        opts.endpoint,
        "--ttl-hours",
        String(opts.ttlHours),
        "--state-dir",
        SESSION_STATE_PATH,
        "--timeout-ms",
        String(CLEANUP_REQUEST_TIMEOUT_MS),
    ];
    if (opts.mode === "loop") args.push("--interval", String(intervalMinutes * 60));
    if (opts.dryRun) args.push("--dry-run");
    const { host, port } = splitEndpoint(opts.endpoint);
    const check = [HEALTHCHECK_PATH, "--host", host, "--port", port];
    return {
        args,
        // Nothing else: no COPILOT_HOME, so no adapter (ACI's env heuristic) mistakes it for a server.
        env: [],
        secretEnv: [{ name: ENV.connectionToken, secretKey: SECRET_KEYS.connectionToken }],
        sessionStatePath: SESSION_STATE_PATH,
        uid: CLI_UID,
        gid: CLI_GID,
        resources: { ...CLEANUP_RESOURCES, ...opts.resources },
        // As often as the server's own readiness: in a per-user pod the sidecar's readiness gates the pod's.
        readinessProbe: { exec: check, initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
        // Slow to give up: a server still unpacking or restarting is not a reason to restart the cleanup.
        livenessProbe: { exec: check, initialDelaySeconds: 60, periodSeconds: 60, timeoutSeconds: 5, failureThreshold: 10 },
        mode: opts.mode,
        intervalMinutes,
        schedule,
        // A run is one list + one delete per expired session, each bounded by the request timeout;
        // half the interval leaves the next run room to start (and caps a wedged one).
        runDeadlineSeconds: Math.max(300, Math.floor((intervalMinutes * 60) / 2)),
    };
}
