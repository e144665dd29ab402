/**
 * The Copilot CLI server contract, defined once and rendered by every platform (Kubernetes, ACI,
 * Docker) and by the local fleet. Nothing platform-specific lives here: platforms translate
 * `ServerSpec` into their own container shapes.
 *
 * The numbers were measured with Copilot CLI 1.0.102 (see DEFAULT_RESOURCES and docs/measured.md "Sizing").
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
export const TelemetryProtocol = { httpProtobuf: "http/protobuf", httpJson: "http/json" } as const;
export type TelemetryProtocol = (typeof TelemetryProtocol)[keyof typeof TelemetryProtocol];
export const TELEMETRY_PROTOCOLS = [TelemetryProtocol.httpProtobuf, TelemetryProtocol.httpJson] as const;
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
 * Sizing from measurements with CLI 1.0.102: idle RSS 245–300 MB, +3–5 MB per session that ran a turn,
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
    /** BYOK: the server holds nothing; clients pass `provider` on every create and resume (sessions over `forUri` never read BYOK from the server's env, and the CLI does not persist provider keys). */
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
