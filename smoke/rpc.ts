/**
 * A minimal raw JSON-RPC probe for the Copilot CLI server: `connect` with the token, then `ping`.
 * Used for health waits and auth checks where the full SDK client would be heavier and would hide the
 * server's exact error (we want to see `AUTHENTICATION_FAILED` itself, not a wrapped message).
 * Framing is LSP-style (`Content-Length: N\r\n\r\n<json>`) over raw TCP.
 */
import * as net from "node:net";

export interface ProbeResult {
    readonly ok: boolean;
    /** `pong: ...` on success. */
    readonly message?: string;
    readonly protocolVersion?: number;
    /** The JSON-RPC error message the server returned (e.g. AUTHENTICATION_FAILED), or a transport error. */
    readonly error?: string;
    readonly ms: number;
}

interface RpcResponse {
    id?: number;
    result?: { message?: string; protocolVersion?: number };
    error?: { code?: number; message?: string };
}

/** Split `host:port` (also `[v6]:port`); throws on anything else so a typo in outputs fails loudly. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint.replace(/^tcp:\/\//, ""));
    if (!m) throw new Error(`endpoint must be host:port, got ${JSON.stringify(endpoint)}`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`endpoint port out of range: ${endpoint}`);
    return { host: m[1], port };
}

/**
 * Connect, authenticate with `token` (omit it to test the no-token path) and ping. Never throws:
 * the result says what happened.
 */
export function probe(endpoint: string, token: string | undefined, opts: { timeoutMs?: number } = {}): Promise<ProbeResult> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? 3000;
    let target: { host: string; port: number };
    try {
        target = parseEndpoint(endpoint);
    } catch (e) {
        return Promise.resolve({ ok: false, error: (e as Error).message, ms: 0 });
    }
    return new Promise((resolve) => {
        let settled = false;
        const sock = net.connect(target);
        const finish = (r: Omit<ProbeResult, "ms">): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            sock.destroy();
            resolve({ ...r, ms: Date.now() - started });
        };
        const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
        let buf = Buffer.alloc(0);
        const send = (id: number, method: string, params: unknown): void => {
            const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method, params }), "utf8");
            sock.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]));
        };
        const onMessage = (msg: RpcResponse): void => {
            if (msg.id === 1) {
                if (msg.error) {
                    finish({ ok: false, error: msg.error.message ?? `error code ${msg.error.code}` });
                    return;
                }
                send(2, "ping", { message: "copilot-fleet probe" });
            } else if (msg.id === 2) {
                if (msg.error) finish({ ok: false, error: msg.error.message ?? `error code ${msg.error.code}` });
                else
                    finish({
                        ok: typeof msg.result?.message === "string" && msg.result.message.startsWith("pong"),
                        message: msg.result?.message,
                        protocolVersion: msg.result?.protocolVersion,
                    });
            }
            // Notifications and server->client requests (no id we sent) are ignored.
        };
        sock.on("connect", () => {
            const params: Record<string, unknown> = { supportedTaskKinds: ["agent", "client", "shell"] };
            if (token !== undefined) params.token = token;
            send(1, "connect", params);
        });
        sock.on("data", (chunk: Buffer) => {
            buf = Buffer.concat([buf, chunk]);
            for (;;) {
                const headerEnd = buf.indexOf("\r\n\r\n");
                if (headerEnd < 0) return;
                const m = /Content-Length:\s*(\d+)/i.exec(buf.subarray(0, headerEnd).toString("ascii"));
                if (!m) {
                    finish({ ok: false, error: "bad frame header from server" });
                    return;
                }
                const len = Number(m[1]);
                if (buf.length < headerEnd + 4 + len) return;
                const body = buf.subarray(headerEnd + 4, headerEnd + 4 + len).toString("utf8");
                buf = buf.subarray(headerEnd + 4 + len);
                try {
                    onMessage(JSON.parse(body) as RpcResponse);
                } catch {
                    finish({ ok: false, error: "bad JSON from server" });
                    return;
                }
            }
        });
        sock.on("error", (e) => finish({ ok: false, error: e.message }));
        sock.on("close", () => finish({ ok: false, error: "connection closed before ping answered" }));
    });
}

/** Probe until it answers or `timeoutMs` passes. Returns the last result. */
export async function waitForPing(endpoint: string, token: string, timeoutMs: number, intervalMs = 100): Promise<ProbeResult> {
    const deadline = Date.now() + timeoutMs;
    let last: ProbeResult = { ok: false, error: "not tried", ms: 0 };
    while (Date.now() < deadline) {
        last = await probe(endpoint, token, { timeoutMs: Math.min(2000, Math.max(200, deadline - Date.now())) });
        if (last.ok) return last;
        await new Promise((r) => setTimeout(r, intervalMs));
    }
    return last;
}
