/**
 * The Copilot CLI server contract, defined once and rendered by every platform (Kubernetes, ACI,
 * Docker) and by the local fleet. Nothing platform-specific lives here: platforms translate
 * `ServerSpec` into their own container shapes.
 *
 * Facts behind the numbers are in DESIGN.md ("Measured here") and in README ("Sizing").
 */

/** The TCP port the headless server listens on (JSON-RPC over raw TCP, LSP framing; not HTTP). */
export const CLI_PORT = 4321;
/** Fixed non-root uid/gid the image runs as. Kubernetes `runAsUser`/`fsGroup` use the same. */
export const CLI_UID = 10001;
export const CLI_GID = 10001;
export const CLI_USER = "copilot";
export const CLI_HOME = "/home/copilot";
/** `COPILOT_HOME`: SQLite session store, logs and config. Kept on local disk (SQLite on SMB/NFS locks). */
export const COPILOT_HOME = `${CLI_HOME}/.copilot`;
/** The only path that goes on shared storage. */
export const SESSION_STATE_PATH = `${COPILOT_HOME}/session-state`;
/** Where the CLI unpacks itself on first run (~235 MB): must be writable, pre-warmed in our image. */
export const CLI_CACHE_PATH = `${CLI_HOME}/.cache`;
/** The in-image health check: a real JSON-RPC `connect` (with the token) + `ping`, exit 0 only on the right answer. */
export const HEALTHCHECK_PATH = "/usr/local/bin/copilot-healthcheck";

/** Environment variable names, in one place. */
export const ENV = {
    connectionToken: "COPILOT_CONNECTION_TOKEN",
    githubToken: "COPILOT_GITHUB_TOKEN",
    home: "COPILOT_HOME",
    offline: "COPILOT_OFFLINE",
    providerBaseUrl: "COPILOT_PROVIDER_BASE_URL",
    providerType: "COPILOT_PROVIDER_TYPE",
    providerApiKey: "COPILOT_PROVIDER_API_KEY",
    model: "COPILOT_MODEL",
    otlpEndpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
    otlpProtocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
    otelServiceName: "OTEL_SERVICE_NAME",
    otelResourceAttributes: "OTEL_RESOURCE_ATTRIBUTES",
    otelCaptureContent: "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
} as const;

/** OTLP encodings the CLI exports (it has no gRPC exporter: `grpc` warns and falls back). */
export const TELEMETRY_PROTOCOLS = ["http/protobuf", "http/json"] as const;
export type TelemetryProtocol = (typeof TELEMETRY_PROTOCOLS)[number];
/** `service.name` of every server's traces and metrics. */
export const TELEMETRY_SERVICE_NAME = "copilot-cli";
/** `service.namespace`: groups the fleet's servers in any OpenTelemetry backend. */
export const TELEMETRY_SERVICE_NAMESPACE = "copilot-fleet";

/**
 * OpenTelemetry export (the CLI's own traces and `gen_ai.*` / `github.copilot.*` metrics) to an OTLP/HTTP
 * endpoint, usually an OpenTelemetry Collector inside the network that holds the backend's credentials.
 */
export interface TelemetrySettings {
    /** Base URL; the CLI appends `/v1/traces` and `/v1/metrics`. */
    readonly otlpEndpoint: string;
    readonly protocol: TelemetryProtocol;
    /** Export prompts, replies and tool arguments too. Off unless the stack opts in: they can hold code and secrets. */
    readonly captureContent: boolean;
    /** Extra resource attributes (already validated: keys `[A-Za-z0-9._-]`, not `service.name`/`service.instance.id`). */
    readonly resourceAttributes: Readonly<Record<string, string>>;
}

/**
 * Sizing from DESIGN.md's measurements: idle RSS 245–300 MB, +3–5 MB per session that ran a turn,
 * 482 MB with 50 such sessions. The request covers idle + ~50 active sessions so the scheduler packs
 * honestly; the limit leaves room for long sessions (V8 heap exhaustion is reported near 4 GB, and we
 * would rather restart a replica at 2 GiB than let one session starve a node).
 */
export const DEFAULT_RESOURCES: ServerResources = {
    cpuRequest: "250m",
    cpuLimit: "2",
    memoryRequest: "512Mi",
    memoryLimit: "2Gi",
};

/**
 * Seconds between "no new connections" (the pod is out of the Service endpoints / the balancer's
 * pool) and SIGTERM. Measured with CLI 1.0.102: on SIGTERM the CLI exits at once (~70 ms, code 0)
 * and does NOT finish an in-flight turn (the prompt is persisted, the reply is not). So this window
 * is the only time in-flight turns get: long enough for a typical turn, short enough that a rolling
 * update of N replicas stays quick.
 */
export const DEFAULT_DRAIN_SECONDS = 30;
/** Total shutdown budget: the drain plus a margin for the CLI to exit after SIGTERM before SIGKILL. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 45;

export interface ServerResources {
    readonly cpuRequest: string;
    readonly cpuLimit: string;
    readonly memoryRequest: string;
    readonly memoryLimit: string;
}

/** A value the container reads from a secret store (Kubernetes Secret, ACI secure env, Docker env from a secret). */
export interface SecretEnvVar {
    readonly name: string;
    /** Key inside the platform's secret object. */
    readonly secretKey: string;
}

export interface PlainEnvVar {
    readonly name: string;
    readonly value: string;
}

export interface ProbeSpec {
    /** Command run inside the container (exec probe). */
    readonly exec: readonly string[];
    readonly initialDelaySeconds: number;
    readonly periodSeconds: number;
    readonly timeoutSeconds: number;
    readonly failureThreshold: number;
}

export interface ServerSpec {
    /** Arguments passed to the image entrypoint (an init process that execs them). */
    readonly args: readonly string[];
    readonly port: number;
    readonly env: readonly PlainEnvVar[];
    readonly secretEnv: readonly SecretEnvVar[];
    readonly sessionStatePath: string;
    readonly homePath: string;
    readonly copilotHome: string;
    readonly cachePath: string;
    readonly uid: number;
    readonly gid: number;
    readonly resources: ServerResources;
    /** Startup: generous, the first run may unpack the CLI (~235 MB). */
    readonly startupProbe: ProbeSpec;
    /** Readiness: the server answers an authenticated JSON-RPC ping. */
    readonly readinessProbe: ProbeSpec;
    /** Liveness: same check, but slower to give up, so a busy replica is not killed mid-turn. */
    readonly livenessProbe: ProbeSpec;
    readonly drainSeconds: number;
    readonly terminationGraceSeconds: number;
    /** Set when the stack exports telemetry; `env` already holds the endpoint variables. */
    readonly telemetry?: TelemetrySettings;
}

/** Which model credential the servers hold. */
export type ModelCredential =
    /** `COPILOT_GITHUB_TOKEN` on the server; sessions use it. */
    | { readonly kind: "githubToken" }
    /** BYOK: the server holds nothing; clients pass `provider` on every create and resume (DESIGN.md). */
    | { readonly kind: "provider" }
    /** The server holds nothing; clients pass each user's `gitHubToken` on every create and resume. */
    | { readonly kind: "perSession" };

export interface ServerSpecOptions {
    readonly credential: ModelCredential;
    /** `--session-idle-timeout <seconds>` when set. */
    readonly sessionIdleTimeoutSeconds?: number;
    readonly resources?: Partial<ServerResources>;
    readonly drainSeconds?: number;
    readonly terminationGraceSeconds?: number;
    readonly telemetry?: TelemetrySettings;
}

/** Secret keys (inside the platform secret object) the spec refers to. */
export const SECRET_KEYS = {
    connectionToken: "connection-token",
    githubToken: "github-token",
} as const;

/**
 * The image's wrapper that installs the server-side tool guard (a preToolUse hook in
 * `$COPILOT_HOME/settings.json`) and then execs the CLI: images/copilot-cli/tools/copilot-fleet-server.
 */
export const SERVER_WRAPPER = "copilot-fleet-server";

/** The headless server command line (arguments after the entrypoint). */
export function serverArgs(opts: { sessionIdleTimeoutSeconds?: number } = {}): string[] {
    const args = [SERVER_WRAPPER, "copilot", "--headless", "--host", "0.0.0.0", "--port", String(CLI_PORT), "--no-auto-update"];
    if (opts.sessionIdleTimeoutSeconds !== undefined) {
        args.push("--session-idle-timeout", String(opts.sessionIdleTimeoutSeconds));
    }
    return args;
}

/** The health check command: a JSON-RPC `connect` with the token from the container env, then `ping`. */
export function healthCheckCommand(): string[] {
    return [HEALTHCHECK_PATH];
}

export function buildServerSpec(opts: ServerSpecOptions): ServerSpec {
    const secretEnv: SecretEnvVar[] = [{ name: ENV.connectionToken, secretKey: SECRET_KEYS.connectionToken }];
    if (opts.credential.kind === "githubToken") {
        secretEnv.push({ name: ENV.githubToken, secretKey: SECRET_KEYS.githubToken });
    }
    const check = healthCheckCommand();
    const drainSeconds = opts.drainSeconds ?? DEFAULT_DRAIN_SECONDS;
    const terminationGraceSeconds = opts.terminationGraceSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
    if (terminationGraceSeconds <= drainSeconds) {
        throw new Error(
            `terminationGraceSeconds (${terminationGraceSeconds}) must be greater than drainSeconds (${drainSeconds}): ` +
                "the server needs time after the drain to finish in-flight turns",
        );
    }
    return {
        args: serverArgs({ sessionIdleTimeoutSeconds: opts.sessionIdleTimeoutSeconds }),
        port: CLI_PORT,
        env: [{ name: ENV.home, value: COPILOT_HOME }, { name: "HOME", value: CLI_HOME }, ...telemetryEnv(opts.telemetry)],
        secretEnv,
        sessionStatePath: SESSION_STATE_PATH,
        homePath: CLI_HOME,
        copilotHome: COPILOT_HOME,
        cachePath: CLI_CACHE_PATH,
        uid: CLI_UID,
        gid: CLI_GID,
        resources: { ...DEFAULT_RESOURCES, ...opts.resources },
        startupProbe: { exec: check, initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 60 },
        readinessProbe: { exec: check, initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
        livenessProbe: { exec: check, initialDelaySeconds: 0, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
        drainSeconds,
        terminationGraceSeconds,
        telemetry: opts.telemetry,
    };
}

function telemetryEnv(t: TelemetrySettings | undefined): PlainEnvVar[] {
    if (t === undefined) return [];
    return [
        { name: ENV.otlpEndpoint, value: t.otlpEndpoint },
        { name: ENV.otlpProtocol, value: t.protocol },
        { name: ENV.otelServiceName, value: TELEMETRY_SERVICE_NAME },
        { name: ENV.otelCaptureContent, value: String(t.captureContent) },
    ];
}

/**
 * `OTEL_RESOURCE_ATTRIBUTES` for one server, or nothing when telemetry is off. Every platform names
 * the instance: the CLI's default `service.instance.id` is built from its PID, which is the same small
 * number in every container, so without this the replicas' metric series would collide (measured:
 * `copilot-otel-<pid>-0`). `instanceId` is used as written (Kubernetes passes `$(POD_NAME)`, which
 * the kubelet expands); other values are percent-encoded as the OTel spec requires.
 */
export function telemetryInstanceEnv(spec: Pick<ServerSpec, "telemetry">, instanceId: string): PlainEnvVar[] {
    if (spec.telemetry === undefined) return [];
    if (!/^([A-Za-z0-9._-]+|\$\(POD_NAME\))$/.test(instanceId)) throw new Error(`telemetry instance id ${JSON.stringify(instanceId)} must be a plain name or $(POD_NAME)`);
    const attrs = { "service.namespace": TELEMETRY_SERVICE_NAMESPACE, ...spec.telemetry.resourceAttributes };
    const value = [`service.instance.id=${instanceId}`, ...Object.entries(attrs).map(([k, v]) => `${k}=${encodeURIComponent(v)}`)].join(",");
    return [{ name: ENV.otelResourceAttributes, value }];
}

// ---- Session cleanup -------------------------------------------------------------------------------

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
