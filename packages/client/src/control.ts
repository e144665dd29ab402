/**
 * Starting and stopping one user's server on each platform, for the idle suspender (stop) and the
 * wake path (start). Node built-ins only (https, http over a unix socket): no Kubernetes, Docker or
 * Azure SDK, and no `@pulumi/*`.
 *
 * Every platform object carries whether its user is `suspended: true` in the stack config (the
 * fleet writes it when `idleSuspendMinutes` is set): a Kubernetes Deployment annotation and a Docker
 * container label `copilot-fleet.github.com/suspended`, an ACI container group tag
 * `copilot-fleet.github.com.suspended` (Azure refuses `/` in a tag name). A wake
 * refuses a user whose object says "true", and also one whose object does not say at all (a fleet
 * deployed without idle suspend): it fails closed.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";

/** The marker on each user's platform object: "true" (suspended in config) or "false". */
export const SUSPENDED_MARKER = "copilot-fleet.github.com/suspended";

export interface UserServerState {
    /** The platform runs (or is starting) this user's server: replicas ≥ 1, container running, group running. */
    readonly running: boolean;
    /** The stack config says `suspended: true`; undefined when the object carries no marker. */
    readonly suspendedInConfig?: boolean;
    /** Where the server answers now, when the platform moves it on a restart (the local fleet); else the stack output's. */
    readonly endpoint?: string;
    /** When a wake last asked for this server (ms since the epoch): the suspender gives it a whole window from then. */
    readonly wantedAtMs?: number;
}

/** One platform's way of starting, stopping and inspecting a user's server. Start and stop are idempotent. */
export interface ServerControl {
    readonly platform: string;
    state(userId: string): Promise<UserServerState>;
    start(userId: string): Promise<void>;
    stop(userId: string): Promise<void>;
    /** Record "a client wants this server now" where the suspender reads it (Kubernetes: an annotation). Optional. */
    touch?(userId: string): Promise<void>;
    /**
     * Start what runs beside a running server and was stopped with it (Docker: the user's session-cleanup
     * container). The suspender calls it for every running server each round, so a server a backend
     * woke without knowing of its companions gets them back. Optional; idempotent.
     */
    startCompanions?(userId: string): Promise<void>;
}

/** A platform API call failed; the message says which call and what the platform answered. */
export class ControlError extends Error {
    constructor(
        message: string,
        readonly status?: number,
    ) {
        super(message);
        this.name = "ControlError";
    }
}

interface HttpAnswer {
    readonly status: number;
    readonly body: string;
}

function request(opts: https.RequestOptions & { body?: string; tls: boolean; timeoutMs?: number }): Promise<HttpAnswer> {
    const { body, tls, timeoutMs = 10_000, ...rest } = opts;
    return new Promise((resolve, reject) => {
        const req = (tls ? https : http).request(rest, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
}

/** The platform's own error text, shortened; never request headers (they carry the bearer token). */
function why(a: HttpAnswer): string {
    try {
        const j = JSON.parse(a.body) as { message?: unknown; error?: { message?: unknown } };
        const m = typeof j.message === "string" ? j.message : typeof j.error?.message === "string" ? j.error.message : undefined;
        if (m) return `${a.status}: ${m.slice(0, 300)}`;
    } catch {
        /* not JSON */
    }
    return `${a.status}: ${a.body.slice(0, 300)}`;
}

function marker(value: unknown): boolean | undefined {
    return value === "true" ? true : value === "false" ? false : undefined;
}

export interface KubernetesControlOptions {
    /** Namespace of the fleet (stack output `namespace`). */
    readonly namespace: string;
    /** user id → that user's Deployment name (stack output `users[id].server`). */
    readonly deploymentName: (userId: string) => string;
    /** API server URL. Default: in-cluster (`KUBERNETES_SERVICE_HOST`/`_PORT`). */
    readonly apiServer?: string;
    /** Bearer token. Default: the pod's service account token, re-read on every call (it is rotated). */
    readonly token?: () => string;
    /** CA bundle (PEM). Default: the in-cluster service account CA. */
    readonly ca?: string | Buffer;
    /**
     * The fleet's wake-marks ConfigMap (stack output `idleSuspend.wakeMarks`): a wake writes "wanted now"
     * for its user there, and the suspender gives that user a whole window from then. Without it there is no mark.
     */
    readonly wakeMarks?: string;
    /** Field manager recorded for the scale changes. Default "copilot-fleet-suspender". */
    readonly fieldManager?: string;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Where `request` dials for an API base URL: TLS for https, and the scheme's port when none is given. */
function target(base: URL): { tls: boolean; host: string; port: string | number } {
    return { tls: base.protocol === "https:", host: base.hostname, port: base.port || (base.protocol === "https:" ? 443 : 80) };
}

/**
 * Kubernetes: scale the user's Deployment through its `scale` subresource (what the fleet's Role
 * allows, by resource name), read the suspended annotation from the Deployment.
 */
export function kubernetesControl(opts: KubernetesControlOptions): ServerControl {
    const base = new URL(opts.apiServer ?? `https://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT ?? "443"}`);
    const token = opts.token ?? (() => readFileSync(`${SA_DIR}/token`, "utf8").trim());
    const ca = opts.ca ?? (opts.apiServer === undefined ? readFileSync(`${SA_DIR}/ca.crt`) : undefined);
    const manager = encodeURIComponent(opts.fieldManager ?? "copilot-fleet-suspender");
    const path = (userId: string, sub = ""): string =>
        `/apis/apps/v1/namespaces/${encodeURIComponent(opts.namespace)}/deployments/${encodeURIComponent(opts.deploymentName(userId))}${sub}`;
    const call = (method: string, p: string, body?: unknown, contentType = "application/json"): Promise<HttpAnswer> =>
        request({
            ...target(base),
            method,
            path: p,
            ca,
            headers: { Authorization: `Bearer ${token()}`, Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": contentType }) },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    const marksPath = `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/configmaps/${encodeURIComponent(opts.wakeMarks ?? "")}`;
    const scale = async (userId: string, replicas: number): Promise<void> => {
        const a = await call("PATCH", `${path(userId, "/scale")}?fieldManager=${manager}`, { spec: { replicas } }, "application/merge-patch+json");
        if (a.status !== 200) throw new ControlError(`scale deployment ${opts.deploymentName(userId)} to ${replicas}: ${why(a)}`, a.status);
    };
    return {
        platform: "kubernetes",
        async state(userId) {
            const a = await call("GET", path(userId));
            if (a.status !== 200) throw new ControlError(`get deployment ${opts.deploymentName(userId)}: ${why(a)}`, a.status);
            const d = JSON.parse(a.body) as { spec?: { replicas?: number }; metadata?: { annotations?: Record<string, string> } };
            let wanted = NaN;
            if (opts.wakeMarks !== undefined) {
                const m = await call("GET", marksPath);
                if (m.status !== 200) throw new ControlError(`get configmap ${opts.wakeMarks}: ${why(m)}`, m.status);
                wanted = Date.parse((JSON.parse(m.body) as { data?: Record<string, string> }).data?.[userId] ?? "");
            }
            return {
                running: (d.spec?.replicas ?? 1) > 0,
                suspendedInConfig: marker(d.metadata?.annotations?.[SUSPENDED_MARKER]),
                ...(Number.isFinite(wanted) ? { wantedAtMs: wanted } : {}),
            };
        },
        ...(opts.wakeMarks === undefined
            ? {}
            : {
                  // A ConfigMap of its own, not the Deployment: a backend allowed to patch Deployments could change what they run.
                  async touch(userId: string) {
                      const a = await call("PATCH", `${marksPath}?fieldManager=${manager}`, { data: { [userId]: new Date().toISOString() } }, "application/merge-patch+json");
                      if (a.status !== 200) throw new ControlError(`mark ${JSON.stringify(userId)} wanted in configmap ${opts.wakeMarks}: ${why(a)}`, a.status);
                  },
              }),
        start: (userId) => scale(userId, 1),
        stop: (userId) => scale(userId, 0),
    };
}

export interface DockerControlOptions {
    /** user id → that user's container name (stack output `users[id].server`). */
    readonly containerName: (userId: string) => string;
    /** The engine's unix socket. Default `/var/run/docker.sock` (or `DOCKER_HOST` when it is `unix://...`). */
    readonly socketPath?: string;
    /** Seconds Docker waits after SIGTERM before SIGKILL on stop. Default 10. */
    readonly stopTimeoutSeconds?: number;
    /**
     * user id → containers stopped after that user's server and started after it (the fleet's
     * session-cleanup container, `<server>-session-cleanup`; the suspender's users file lists them). Default none.
     */
    readonly companions?: (userId: string) => readonly string[];
}

/** Docker: stop and start the user's container (and its companions) through the Engine API; read the suspended label. */
export function dockerControl(opts: DockerControlOptions): ServerControl {
    const envHost = process.env.DOCKER_HOST;
    const socketPath = opts.socketPath ?? (envHost?.startsWith("unix://") ? envHost.slice("unix://".length) : "/var/run/docker.sock");
    const call = (method: string, p: string): Promise<HttpAnswer> => request({ tls: false, socketPath, method, path: p, headers: { Host: "docker" } });
    const name = (u: string): string => encodeURIComponent(opts.containerName(u));
    /** start/stop of one container; 304 is "already so". */
    const act = async (container: string, verb: "start" | "stop"): Promise<void> => {
        const a = await call("POST", `/containers/${encodeURIComponent(container)}/${verb}${verb === "stop" ? `?t=${opts.stopTimeoutSeconds ?? 10}` : ""}`);
        if (a.status !== 204 && a.status !== 304) throw new ControlError(`${verb} container ${container}: ${why(a)}`, a.status);
    };
    const companions = async (userId: string, verb: "start" | "stop"): Promise<void> => {
        for (const c of opts.companions?.(userId) ?? []) await act(c, verb);
    };
    return {
        platform: "docker",
        async state(userId) {
            const a = await call("GET", `/containers/${name(userId)}/json`);
            if (a.status !== 200) throw new ControlError(`inspect container ${opts.containerName(userId)}: ${why(a)}`, a.status);
            const c = JSON.parse(a.body) as {
                State?: { Running?: boolean; Restarting?: boolean };
                Config?: { Labels?: Record<string, string> };
                NetworkSettings?: { Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> };
            };
            // The engine picks the loopback port at each start, so a restarted container may answer on a new one.
            const bound = Object.values(c.NetworkSettings?.Ports ?? {}).find((b) => b && b.length > 0)?.[0];
            const endpoint = bound?.HostPort ? `${bound.HostIp && bound.HostIp !== "0.0.0.0" ? bound.HostIp : "127.0.0.1"}:${bound.HostPort}` : undefined;
            return { running: c.State?.Running === true || c.State?.Restarting === true, suspendedInConfig: marker(c.Config?.Labels?.[SUSPENDED_MARKER]), ...(endpoint ? { endpoint } : {}) };
        },
        // The server first, then what dials it.
        async start(userId) {
            await act(opts.containerName(userId), "start");
            await companions(userId, "start");
        },
        async stop(userId) {
            await act(opts.containerName(userId), "stop");
            await companions(userId, "stop");
        },
        ...(opts.companions === undefined ? {} : { startCompanions: (userId: string) => companions(userId, "start") }),
    };
}

export interface AciControlOptions {
    readonly subscriptionId: string;
    readonly resourceGroupName: string;
    /** user id → that user's container group name (stack output `users[id].server`). */
    readonly groupName: (userId: string) => string;
    /** An ARM access token (the suspender: `managedIdentityToken`; a backend: its own credential); called for every request. */
    readonly getToken: () => Promise<string>;
    /** Default https://management.azure.com (another cloud: its ARM endpoint). */
    readonly armEndpoint?: string;
}

const ACI_API_VERSION = "2023-05-01";

/**
 * The suspended marker as an ACI tag: Azure refuses `/` in a tag name, so the fleet tags every ACI
 * resource with its label keys spelled with `.` for `/` (`copilot-fleet.github.com.suspended`).
 */
export const AZURE_SUSPENDED_TAG = SUSPENDED_MARKER.replace(/\//g, ".");

/**
 * ACI: the container group's `stop` and `start` actions (a stopped group releases its compute and is
 * not billed), its instance view state, its current private address, and the suspended tag.
 *
 * A stopped group may come back on another private IP, so `state` reports where it answers now
 * (`properties.ipAddress`): the wake and the suspender dial that, not the address in the stack outputs.
 * A user suspended in config has no container group on ACI (ARM cannot create one stopped): its
 * `state` is a ControlError saying so, and nothing is started.
 */
export function aciControl(opts: AciControlOptions): ServerControl {
    const base = new URL(opts.armEndpoint ?? "https://management.azure.com");
    const path = (u: string, action = ""): string =>
        `/subscriptions/${encodeURIComponent(opts.subscriptionId)}/resourceGroups/${encodeURIComponent(opts.resourceGroupName)}/providers/Microsoft.ContainerInstance/containerGroups/${encodeURIComponent(opts.groupName(u))}${action}?api-version=${ACI_API_VERSION}`;
    const call = async (method: string, p: string): Promise<HttpAnswer> =>
        request({
            ...target(base),
            method,
            path: p,
            headers: { Authorization: `Bearer ${await opts.getToken()}`, Accept: "application/json", "Content-Length": "0" },
        });
    const action = async (u: string, verb: "start" | "stop"): Promise<void> => {
        const a = await call("POST", path(u, `/${verb}`));
        // 409 on start: another start (a concurrent wake) or a stop is in progress. The wake re-reads the
        // state and starts again once the group is stopped; two wakes still start one group.
        if (verb === "start" && a.status === 409) return;
        if (a.status !== 200 && a.status !== 202 && a.status !== 204) throw new ControlError(`${verb} container group ${opts.groupName(u)}: ${why(a)}`, a.status);
    };
    return {
        platform: "aci",
        async state(userId) {
            const a = await call("GET", path(userId));
            if (a.status === 404) {
                throw new ControlError(
                    `container group ${opts.groupName(userId)} does not exist in resource group ${opts.resourceGroupName} (a user suspended in config has none on ACI: set suspended: false and run pulumi up): ${why(a)}`,
                    a.status,
                );
            }
            if (a.status !== 200) throw new ControlError(`get container group ${opts.groupName(userId)}: ${why(a)}`, a.status);
            const g = JSON.parse(a.body) as {
                tags?: Record<string, string>;
                properties?: { instanceView?: { state?: string }; ipAddress?: { ip?: string; ports?: Array<{ port?: number }> } };
            };
            const state = g.properties?.instanceView?.state ?? "";
            const ip = g.properties?.ipAddress?.ip;
            const port = g.properties?.ipAddress?.ports?.[0]?.port;
            return {
                running: state !== "Stopped" && state !== "Succeeded" && state !== "Failed",
                suspendedInConfig: marker(g.tags?.[AZURE_SUSPENDED_TAG]),
                ...(ip && port ? { endpoint: `${ip}:${port}` } : {}),
            };
        },
        start: (u) => action(u, "start"),
        stop: (u) => action(u, "stop"),
    };
}

export interface ManagedIdentityTokenOptions {
    /** The user-assigned identity's client id (the suspender's `SUSPENDER_AZURE_CLIENT_ID`); omit for the only identity. */
    readonly clientId?: string;
    /** Default https://management.azure.com/ (the token's audience). */
    readonly resource?: string;
    /** The instance metadata service. Default http://169.254.169.254 (what ACI serves to a group with an identity). */
    readonly endpoint?: string;
}

/**
 * ARM tokens of the container group's managed identity, from the instance metadata service (Azure
 * docs, "How to use managed identities with Azure Container Instances"), kept until five minutes
 * before they expire. A refusal is a ControlError with the service's own words; a token never
 * appears in a message.
 */
export function managedIdentityToken(opts: ManagedIdentityTokenOptions = {}): () => Promise<string> {
    const base = new URL(opts.endpoint ?? "http://169.254.169.254");
    const query = new URLSearchParams({ "api-version": "2018-02-01", resource: opts.resource ?? "https://management.azure.com/", ...(opts.clientId ? { client_id: opts.clientId } : {}) });
    let cached: { token: string; renewAtMs: number } | undefined;
    let pending: Promise<string> | undefined;
    const fetchToken = async (): Promise<string> => {
        let a: HttpAnswer;
        try {
            a = await request({ ...target(base), method: "GET", path: `/metadata/identity/oauth2/token?${query.toString()}`, headers: { Metadata: "true" }, timeoutMs: 5000 });
        } catch (e) {
            throw new ControlError(`managed identity token from ${base.origin}: ${(e as Error).message}`);
        }
        if (a.status !== 200) {
            let m = a.body.slice(0, 300);
            try {
                const j = JSON.parse(a.body) as { error?: unknown; error_description?: unknown };
                m = [j.error, j.error_description].filter((x) => typeof x === "string").join(": ") || m;
            } catch {
                /* not JSON */
            }
            throw new ControlError(`managed identity token from ${base.origin}: ${a.status}: ${m}`, a.status);
        }
        const j = JSON.parse(a.body) as { access_token?: unknown; expires_on?: unknown; expires_in?: unknown };
        if (typeof j.access_token !== "string" || j.access_token === "") throw new ControlError(`managed identity token from ${base.origin}: the answer has no access_token`);
        // expires_on: seconds since the epoch, as a string; expires_in: seconds from now.
        const on = Number(j.expires_on) * 1000;
        const expiresAt = Number.isFinite(on) && on > 0 ? on : Date.now() + (Number(j.expires_in) > 0 ? Number(j.expires_in) * 1000 : 5 * 60_000);
        cached = { token: j.access_token, renewAtMs: expiresAt - 5 * 60_000 };
        return j.access_token;
    };
    return async () => {
        if (cached && Date.now() < cached.renewAtMs) return cached.token;
        pending ??= fetchToken().finally(() => (pending = undefined));
        return pending;
    };
}

export interface LocalFleetControlOptions {
    /** `idleSuspend.controlUrl` from the local fleet's outputs file (`http://127.0.0.1:<port>`). */
    readonly url: string;
    /** `idleSuspend.controlToken` from the same file (secret). */
    readonly token: string;
}

/**
 * The local fleet's control (`npm run fleet:local -- --mode per-user ...`), for backends and tests in
 * another process: the same start/stop/state/touch over a loopback HTTP endpoint with a bearer token.
 */
export function localFleetControl(opts: LocalFleetControlOptions): ServerControl {
    const base = new URL(opts.url);
    const call = async (method: string, userId: string, verb = ""): Promise<HttpAnswer> => {
        const a = await request({ tls: false, host: base.hostname, port: base.port, method, path: `/users/${encodeURIComponent(userId)}${verb}`, headers: { Authorization: `Bearer ${opts.token}` } });
        if (a.status !== 200 && a.status !== 204) throw new ControlError(`${method} ${verb || "state"} of local user ${JSON.stringify(userId)}: ${why(a)}`, a.status);
        return a;
    };
    return {
        platform: "local",
        state: async (u) => JSON.parse((await call("GET", u)).body) as UserServerState,
        start: async (u) => void (await call("POST", u, "/start")),
        stop: async (u) => void (await call("POST", u, "/stop")),
        touch: async (u) => void (await call("POST", u, "/touch")),
    };
}
