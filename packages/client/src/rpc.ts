/**
 * A small JSON-RPC client for one Copilot CLI server (LSP-style `Content-Length` framing over raw TCP,
 * `connect` with the connection token first). Node built-ins only: the idle suspender runs this file
 * in a bare Node.js container, and the wake path uses it for its health wait.
 */
import * as net from "node:net";

/** The server answered a request with a JSON-RPC error (e.g. AUTHENTICATION_FAILED, "Session not found"). */
export class RpcError extends Error {
    constructor(
        readonly method: string,
        message: string,
        readonly code?: number,
    ) {
        super(`${method}: ${message}`);
        this.name = "RpcError";
    }
}

interface Pending {
    readonly method: string;
    resolve(v: unknown): void;
    reject(e: Error): void;
}

/** `host:port` or `[v6]:port` → its parts; throws on anything else. */
export function splitHostPort(endpoint: string): { host: string; port: number } {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw new Error(`endpoint must be host:port, got ${JSON.stringify(endpoint)}`);
    return { host: m[1], port };
}

/** One authenticated connection; `call` sends a request and resolves with its `result`. */
export class RpcConnection {
    private buf = Buffer.alloc(0);
    private nextId = 1;
    private readonly pending = new Map<number, Pending>();
    private closedError?: Error;

    private constructor(private readonly sock: net.Socket, private readonly timeoutMs: number) {
        sock.on("data", (d: Buffer) => this.onData(d));
        sock.on("error", (e) => this.fail(e));
        sock.on("close", () => this.fail(new Error("connection closed")));
    }

    /** Connects and authenticates; rejects with the server's own error (AUTHENTICATION_FAILED) or the transport's. */
    static async open(endpoint: string, token: string, timeoutMs = 3000): Promise<RpcConnection> {
        const target = splitHostPort(endpoint);
        const sock = await new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(target);
            const timer = setTimeout(() => {
                s.destroy();
                reject(new Error(`connect to ${endpoint}: timeout after ${timeoutMs} ms`));
            }, timeoutMs);
            s.once("connect", () => {
                clearTimeout(timer);
                resolve(s);
            });
            s.once("error", (e) => {
                clearTimeout(timer);
                reject(new Error(`connect to ${endpoint}: ${e.message}`));
            });
        });
        const c = new RpcConnection(sock, timeoutMs);
        try {
            await c.call("connect", { token, supportedTaskKinds: ["agent", "client", "shell"] });
        } catch (e) {
            c.close();
            throw e;
        }
        return c;
    }

    call(method: string, params: unknown): Promise<unknown> {
        if (this.closedError) return Promise.reject(this.closedError);
        const id = this.nextId++;
        const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method, params }), "utf8");
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(id);
                reject(new Error(`${method}: no answer within ${this.timeoutMs} ms`));
            }, this.timeoutMs);
            this.pending.set(id, {
                method,
                resolve: (v) => {
                    clearTimeout(timer);
                    resolve(v);
                },
                reject: (e) => {
                    clearTimeout(timer);
                    reject(e);
                },
            });
            this.sock.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]));
        });
    }

    close(): void {
        this.sock.destroy();
    }

    private fail(e: Error): void {
        this.closedError ??= e;
        for (const p of this.pending.values()) p.reject(new Error(`${p.method}: ${e.message}`));
        this.pending.clear();
    }

    private onData(d: Buffer): void {
        this.buf = Buffer.concat([this.buf, d]);
        for (;;) {
            const headerEnd = this.buf.indexOf("\r\n\r\n");
            if (headerEnd < 0) return;
            const m = /Content-Length:\s*(\d+)/i.exec(this.buf.subarray(0, headerEnd).toString("ascii"));
            if (!m) return this.garbage("bad frame header");
            const len = Number(m[1]);
            if (this.buf.length < headerEnd + 4 + len) return;
            const text = this.buf.subarray(headerEnd + 4, headerEnd + 4 + len).toString("utf8");
            this.buf = this.buf.subarray(headerEnd + 4 + len);
            let msg: { id?: unknown; result?: unknown; error?: { code?: number; message?: string } };
            try {
                msg = JSON.parse(text) as typeof msg;
            } catch {
                return this.garbage("bad JSON");
            }
            // Notifications and server-to-client requests carry no id of ours.
            const p = typeof msg.id === "number" ? this.pending.get(msg.id) : undefined;
            if (!p) continue;
            this.pending.delete(msg.id as number);
            if (msg.error) p.reject(new RpcError(p.method, msg.error.message ?? `error code ${msg.error.code}`, msg.error.code));
            else p.resolve(msg.result);
        }
    }

    private garbage(what: string): void {
        this.fail(new Error(`${what} from server`));
        this.sock.destroy();
    }
}

/** Connect, authenticate and `ping`; resolves when the server answers `pong`, rejects with why not. */
export async function ping(endpoint: string, token: string, timeoutMs = 3000): Promise<void> {
    const c = await RpcConnection.open(endpoint, token, timeoutMs);
    try {
        const r = (await c.call("ping", { message: "copilot-fleet" })) as { message?: unknown } | null;
        if (typeof r?.message !== "string" || !r.message.startsWith("pong")) throw new Error(`ping: unexpected answer ${JSON.stringify(r)}`);
    } finally {
        c.close();
    }
}
