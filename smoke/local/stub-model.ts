/**
 * An OpenAI-compatible stub model on 127.0.0.1 for offline (BYOK) turns against the real Copilot CLI.
 *
 * Answers are deterministic and name the turn: `stub reply #<n user messages> to "<last user text>"
 * [digest <hash of all messages>]`, so a test can tell turns apart and see that a resumed session's
 * request carried the earlier turns. Every request is recorded. Tools are accepted but never called:
 * the stub always answers with plain text, which ends the turn after one model call.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const STUB_MODEL_ID = "stub-model";

export interface RecordedMessage {
    readonly role: string;
    /** Text content; array contents are flattened to their text parts. */
    readonly content: string;
}

export interface RecordedRequest {
    readonly at: number;
    readonly method: string;
    readonly path: string;
    /** Only for chat completions. */
    readonly model?: string;
    readonly stream?: boolean;
    readonly messages?: readonly RecordedMessage[];
    /** The reply the stub gave (chat completions only). */
    readonly reply?: string;
    readonly authorization?: string;
}

export interface StubModel {
    /** `http://127.0.0.1:P/v1`: pass as the BYOK provider `baseUrl`. */
    readonly baseUrl: string;
    readonly model: string;
    readonly port: number;
    /** Every request received, in arrival order (mutated in place as requests arrive). */
    readonly requests: RecordedRequest[];
    /** Chat-completion requests only. */
    chatRequests(): RecordedRequest[];
    /** Change the reply delay for later requests (e.g. hold one turn in flight, then go back to 0). */
    setReplyDelayMs(ms: number): void;
    stop(): Promise<void>;
}

export interface StubModelOptions {
    /** Port to bind on 127.0.0.1; default 0 (any free port). */
    readonly port?: number;
    /** Delay before the reply starts (ms), e.g. to keep a turn in flight while a test kills a server. */
    readonly replyDelayMs?: number;
    /** Chunks a streamed reply is split into, with `chunkDelayMs` between them. */
    readonly chunkDelayMs?: number;
}

function textOf(content: unknown): string {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
        return content
            .map((part: unknown) => {
                if (part && typeof part === "object" && "text" in part && typeof (part as { text: unknown }).text === "string") {
                    return (part as { text: string }).text;
                }
                return "";
            })
            .join("");
    }
    return "";
}

/** The deterministic answer for a conversation. Exported so tests can predict replies. */
export function stubReply(messages: readonly RecordedMessage[]): string {
    const users = messages.filter((m) => m.role === "user");
    const last = users.length > 0 ? users[users.length - 1].content : "";
    const digest = createHash("sha256")
        .update(JSON.stringify(messages.map((m) => [m.role, m.content])))
        .digest("hex")
        .slice(0, 12);
    // Keep the echo short: the CLI wraps the user's prompt in context, we want the readable tail.
    const shortLast = last.length > 200 ? last.slice(last.length - 200) : last;
    return `stub reply #${users.length} to "${shortLast}" [digest ${digest}]`;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
}

function readBody(req: http.IncomingMessage, limitBytes: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (c: Buffer) => {
            size += c.length;
            if (size > limitBytes) {
                reject(new Error("request body too large"));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startStubModel(opts: StubModelOptions = {}): Promise<StubModel> {
    const requests: RecordedRequest[] = [];
    const model = STUB_MODEL_ID;
    let completionCounter = 0;
    let replyDelayMs = opts.replyDelayMs ?? 0;

    const server = http.createServer((req, res) => {
        void handle(req, res).catch((err: unknown) => {
            if (!res.headersSent) sendJson(res, 500, { error: { message: String(err) } });
            else res.destroy();
        });
    });

    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const path = (req.url ?? "/").split("?")[0];
        const authorization = typeof req.headers.authorization === "string" ? req.headers.authorization : undefined;
        if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
            requests.push({ at: Date.now(), method: "GET", path, authorization });
            sendJson(res, 200, {
                object: "list",
                data: [{ id: model, object: "model", created: 1_700_000_000, owned_by: "stub" }],
            });
            return;
        }
        if (req.method === "POST" && (path === "/v1/chat/completions" || path === "/chat/completions")) {
            const raw = await readBody(req, 64 * 1024 * 1024);
            let body: { model?: unknown; stream?: unknown; messages?: unknown };
            try {
                body = JSON.parse(raw) as typeof body;
            } catch {
                sendJson(res, 400, { error: { message: "invalid JSON" } });
                return;
            }
            const messages: RecordedMessage[] = Array.isArray(body.messages)
                ? body.messages.map((m: unknown) => {
                      const o = (m ?? {}) as { role?: unknown; content?: unknown };
                      return { role: typeof o.role === "string" ? o.role : "unknown", content: textOf(o.content) };
                  })
                : [];
            const stream = body.stream === true;
            const reply = stubReply(messages);
            requests.push({
                at: Date.now(),
                method: "POST",
                path,
                model: typeof body.model === "string" ? body.model : undefined,
                stream,
                messages,
                reply,
                authorization,
            });
            if (replyDelayMs > 0) await sleep(replyDelayMs);
            const id = `chatcmpl-stub-${++completionCounter}`;
            const created = Math.floor(Date.now() / 1000);
            const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
            if (!stream) {
                sendJson(res, 200, {
                    id,
                    object: "chat.completion",
                    created,
                    model,
                    choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
                    usage,
                });
                return;
            }
            res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
            const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
                `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
            res.write(chunk({ role: "assistant", content: "" }, null));
            // Two content pieces so streaming consumers really assemble deltas.
            const mid = Math.floor(reply.length / 2);
            for (const piece of [reply.slice(0, mid), reply.slice(mid)]) {
                if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
                if (res.destroyed) return;
                res.write(chunk({ content: piece }, null));
            }
            res.write(chunk({}, "stop", { usage }));
            res.end("data: [DONE]\n\n");
            return;
        }
        requests.push({ at: Date.now(), method: req.method ?? "?", path, authorization });
        sendJson(res, 404, { error: { message: `stub model: no route for ${req.method} ${path}` } });
    }

    const sockets = new Set<import("node:net").Socket>();
    server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    let stopped: Promise<void> | undefined;
    return {
        baseUrl: `http://127.0.0.1:${port}/v1`,
        model,
        port,
        requests,
        chatRequests: () => requests.filter((r) => r.messages !== undefined),
        setReplyDelayMs: (ms: number) => {
            replyDelayMs = Math.max(0, ms);
        },
        stop: () => {
            stopped ??= new Promise<void>((resolve) => {
                server.close(() => resolve());
                for (const s of sockets) s.destroy();
            });
            return stopped;
        },
    };
}
