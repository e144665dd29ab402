/**
 * HAProxy as the fleet's TCP load balancer: one config generator for every place we run it (the
 * Docker platform's container and the local fleet's process).
 *
 * Two things make "right after a replica dies, the next client still gets a working server" hold:
 * - `option redispatch 1` + `retries`: a connect that is refused (a dead process's port resets at
 *   once) is retried on another server, so clients don't see the dead one even before the health
 *   check marks it down;
 * - a real JSON-RPC health check (`connect` with the token, then `ping`, expecting `pong`) with a fast
 *   interval and `fall 1`, plus `on-marked-down shutdown-sessions` so clients stuck on a dead server
 *   are cut loose. A TCP-connect check alone passes for a server that accepts but never answers.
 *
 * The config embeds the connection token (inside the health check), so treat the file as a secret.
 */

/** HAProxy image for container platforms, pinned (an LTS branch). */
export const HAPROXY_IMAGE = "haproxy:2.8.10";
export const HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";
export const DEFAULT_CHECK_INTERVAL_MS = 500;
/** Port of the balancer's Prometheus endpoint (`/metrics`) on container platforms. */
export const HAPROXY_METRICS_PORT = 8404;
/** `resolver` value: the nameservers of the container's /etc/resolv.conf (`parse-resolv-conf`). */
export const RESOLV_CONF = "resolv.conf";

export interface LoadBalancerBackend {
    readonly name: string;
    /** `host:port`; on Docker a container name resolved through the engine's DNS. */
    readonly address: string;
}

export interface HaproxyConfigOptions {
    /** `address:port` the frontend binds, e.g. `127.0.0.1:4321` or `*:4321`. */
    readonly bind: string;
    readonly backends: readonly LoadBalancerBackend[];
    readonly connectionToken: string;
    /** Health check interval. Default 500 ms. */
    readonly checkIntervalMs?: number;
    /**
     * Where backend names are resolved at run time, so a replica that is recreated with a new address
     * is found again, and HAProxy starts even while a replica is not up yet: a DNS server `host:port`,
     * or RESOLV_CONF for the nameservers in the container's own /etc/resolv.conf (the engine's DNS on
     * any engine: Docker's 127.0.0.11, podman's aardvark-dns at the network's gateway).
     */
    readonly resolver?: string;
    /**
     * `address:port` for HAProxy's built-in Prometheus exporter (`GET /metrics`). The CLI has no metrics
     * endpoint, so this is where a scraper sees each replica's health-check state and open client
     * connections (`haproxy_server_status`, `haproxy_server_current_sessions`). It never shows the
     * token. Unset: no metrics frontend.
     */
    readonly metricsBind?: string;
}

/** One LSP-framed JSON-RPC request, hex-encoded for `tcp-check send-binary`. */
export function jsonRpcFrameHex(id: number, method: string, params: unknown): string {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method, params }), "utf8");
    return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]).toString("hex");
}

/** The haproxy.cfg text. */
export function haproxyConfig(opts: HaproxyConfigOptions): string {
    const inter = opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    const connectReq = jsonRpcFrameHex(1, "connect", { token: opts.connectionToken, supportedTaskKinds: [] });
    const pingReq = jsonRpcFrameHex(2, "ping", { message: "haproxy" });
    const serverOpts = opts.resolver ? " resolvers dns init-addr last,libc,none" : "";
    return [
        "global",
        "    maxconn 4000",
        "    log stderr format raw local0 warning",
        ...(opts.resolver
            ? ["resolvers dns", opts.resolver === RESOLV_CONF ? "    parse-resolv-conf" : `    nameserver dns ${opts.resolver}`, "    hold valid 1s", "    hold obsolete 1s"]
            : []),
        "defaults",
        "    mode tcp",
        "    log global",
        "    timeout connect 1s",
        // Long turns stream over a quiet-looking socket; don't cut idle client sessions early.
        "    timeout client 1h",
        "    timeout server 1h",
        "    retries 3",
        "    option redispatch 1",
        "frontend copilot",
        `    bind ${opts.bind}`,
        "    default_backend replicas",
        ...(opts.metricsBind
            ? [
                  "frontend metrics",
                  "    mode http",
                  `    bind ${opts.metricsBind}`,
                  "    timeout http-request 5s",
                  "    no log",
                  "    http-request use-service prometheus-exporter if { path /metrics }",
                  "    http-request return status 404",
              ]
            : []),
        "backend replicas",
        "    balance leastconn",
        "    option tcp-check",
        "    tcp-check connect",
        `    tcp-check send-binary ${connectReq}`,
        // A wrong token is answered with an error that carries no protocolVersion.
        "    tcp-check expect string protocolVersion",
        `    tcp-check send-binary ${pingReq}`,
        "    tcp-check expect string pong",
        `    default-server inter ${inter} fastinter ${Math.max(100, Math.floor(inter / 2))} downinter ${inter} rise 1 fall 1 on-marked-down shutdown-sessions`,
        ...opts.backends.map((b) => `    server ${b.name} ${b.address} check${serverOpts}`),
        "",
    ].join("\n");
}
