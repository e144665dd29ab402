/**
 * An OpenAI-compatible stub model on 127.0.0.1 for offline (BYOK) turns against the real Copilot CLI.
 *
 * Answers are deterministic and name the turn: `stub reply #<n user messages> to "<last user text>"
 * [digest <hash of all messages>]`, so a test can tell turns apart and see that a resumed session's
 * request carried the earlier turns. Every request is recorded.
 *
 * Tool calls: a user message holding directives `[[tool:<name> <JSON arguments>]]` (one or more) is
 * answered with those tool calls, in order, in one assistant message (finish reason `tool_calls`), so
 * a test decides exactly which of the CLI's tools run with which arguments. The next request (the CLI
 * sends the tools' results as `role: "tool"` messages) is answered with plain text that quotes each
 * result, which ends the turn: `stub tool results: [<name> <call id>] <result>...`. The red-team check
 * drives the agent's real tools this way; what a tool could reach is then in the session's events.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import { listenOnLoopback } from "./loopback";

export const STUB_MODEL_ID = "stub-model";

export interface RecordedMessage {
    readonly role: string;
    /** Text content; array contents are flattened to their text parts. */
    readonly content: string;
    /** `role: "tool"` messages: the call this result answers. */
    readonly toolCallId?: string;
}

/** One tool call the stub asks for: `[[tool:<name> <JSON arguments>]]` in a user message. */
export interface StubToolCall {
    readonly name: string;
    readonly arguments: Record<string, unknown>;
}

export interface RecordedRequest {
    readonly at: number;
    readonly method: string;
    readonly path: string;
    /** Only for chat completions. */
    readonly model?: string;
    readonly stream?: boolean;
    readonly messages?: readonly RecordedMessage[];
    /** The reply the stub gave (chat completions only; empty when it answered with tool calls). */
    readonly reply?: string;
    /** Tool calls the stub answered with, if any. */
    readonly toolCalls?: readonly StubToolCall[];
    /** Names of the tools the request offered the model. */
    readonly offeredTools?: readonly string[];
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
    /** Port to bind; default 0 (any free port). */
    readonly port?: number;
    /**
     * Address to bind; default 127.0.0.1. Containers on a bridge network reach the host at their
     * gateway (podman's `host.containers.internal`), so the engine suites bind all addresses and set
     * `apiKey`.
     */
    readonly host?: string;
    /** When set, every request must carry `Authorization: Bearer <apiKey>` (else 401). */
    readonly apiKey?: string;
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

const DIRECTIVE_START = /\[\[tool:([A-Za-z0-9_.-]+)\s+/g;

/** End (exclusive) of the JSON object that starts at `text[start] === "{"`, honouring strings; -1 if unbalanced. */
function jsonObjectEnd(text: string, start: number): number {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
        const ch = text[i];
        if (inString) {
            if (ch === "\\") i++;
            else if (ch === '"') inString = false;
        } else if (ch === '"') inString = true;
        else if (ch === "{") depth++;
        else if (ch === "}" && --depth === 0) return i + 1;
    }
    return -1;
}

/**
 * The tool calls a user message asks for, in order. Arguments may themselves hold directives (a
 * `task` prompt that makes a sub-agent call a tool): the object is read up to its balancing brace.
 * A directive whose arguments are not a JSON object is an error (a red-team prompt with a typo must
 * fail loudly, not turn into a harmless text turn).
 */
export function toolDirectives(text: string): StubToolCall[] {
    const calls: StubToolCall[] = [];
    DIRECTIVE_START.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = DIRECTIVE_START.exec(text)) !== null) {
        const start = m.index + m[0].length;
        const end = text[start] === "{" ? jsonObjectEnd(text, start) : -1;
        if (end < 0 || !text.startsWith("]]", end)) throw new Error(`stub model: tool directive for ${m[1]} needs a JSON object followed by "]]"`);
        let args: unknown;
        try {
            args = JSON.parse(text.slice(start, end));
        } catch (e) {
            throw new Error(`stub model: tool directive for ${m[1]} has arguments that are not JSON: ${(e as Error).message}`);
        }
        if (!args || typeof args !== "object" || Array.isArray(args)) throw new Error(`stub model: tool directive for ${m[1]} needs a JSON object`);
        calls.push({ name: m[1], arguments: args as Record<string, unknown> });
        DIRECTIVE_START.lastIndex = end + 2;
    }
    return calls;
}

/** Longest quote of one tool result in the stub's summary reply. */
const TOOL_RESULT_QUOTE_CHARS = 8000;

/**
 * What the stub answers a conversation with: tool calls when the last message is a user message
 * with directives, a quote of the results when the last messages are tool results, else `stubReply`.
 */
export function stubAnswer(messages: readonly RecordedMessage[]): { readonly text: string; readonly toolCalls: readonly StubToolCall[] } {
    const last = messages[messages.length - 1];
    if (last?.role === "user") {
        const calls = toolDirectives(last.content);
        if (calls.length > 0) return { text: "", toolCalls: calls };
    }
    if (last?.role === "tool") {
        let i = messages.length;
        while (i > 0 && messages[i - 1].role === "tool") i--;
        const quoted = messages
            .slice(i)
            .map((m) => `[${m.toolCallId ?? "?"}] ${m.content.length > TOOL_RESULT_QUOTE_CHARS ? m.content.slice(0, TOOL_RESULT_QUOTE_CHARS) : m.content}`)
            .join("\n");
        return { text: `stub tool results: ${quoted}`, toolCalls: [] };
    }
    return { text: stubReply(messages), toolCalls: [] };
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
        if (opts.apiKey !== undefined && authorization !== `Bearer ${opts.apiKey}`) {
            requests.push({ at: Date.now(), method: req.method ?? "?", path, authorization: authorization === undefined ? undefined : "(wrong key)" });
            sendJson(res, 401, { error: { message: "stub model: missing or wrong API key" } });
            return;
        }
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
                      const o = (m ?? {}) as { role?: unknown; content?: unknown; tool_call_id?: unknown };
                      return {
                          role: typeof o.role === "string" ? o.role : "unknown",
                          content: textOf(o.content),
                          ...(typeof o.tool_call_id === "string" ? { toolCallId: o.tool_call_id } : {}),
                      };
                  })
                : [];
            const stream = body.stream === true;
            let answer: ReturnType<typeof stubAnswer>;
            try {
                answer = stubAnswer(messages);
            } catch (e) {
                sendJson(res, 400, { error: { message: (e as Error).message } });
                return;
            }
            const reply = answer.text;
            const callId = (k: number): string => `call_stub_${completionCounter + 1}_${k}`;
            const toolCalls = answer.toolCalls.map((t, k) => ({
                id: callId(k),
                type: "function",
                function: { name: t.name, arguments: JSON.stringify(t.arguments) },
            }));
            const offeredTools = Array.isArray((body as { tools?: unknown }).tools)
                ? ((body as { tools: unknown[] }).tools
                      .map((t) => (t as { function?: { name?: unknown } })?.function?.name)
                      .filter((n): n is string => typeof n === "string"))
                : undefined;
            requests.push({
                at: Date.now(),
                method: "POST",
                path,
                model: typeof body.model === "string" ? body.model : undefined,
                stream,
                messages,
                reply,
                ...(answer.toolCalls.length > 0 ? { toolCalls: answer.toolCalls } : {}),
                ...(offeredTools ? { offeredTools } : {}),
                authorization,
            });
            if (replyDelayMs > 0) await sleep(replyDelayMs);
            const id = `chatcmpl-stub-${++completionCounter}`;
            const created = Math.floor(Date.now() / 1000);
            const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
            if (!stream) {
                const message = toolCalls.length > 0 ? { role: "assistant", content: null, tool_calls: toolCalls } : { role: "assistant", content: reply };
                sendJson(res, 200, {
                    id,
                    object: "chat.completion",
                    created,
                    model,
                    choices: [{ index: 0, message, finish_reason: toolCalls.length > 0 ? "tool_calls" : "stop" }],
                    usage,
                });
                return;
            }
            res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
            const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
                `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
            if (toolCalls.length > 0) {
                res.write(chunk({ role: "assistant", content: null }, null));
                // Name first, arguments in a second delta: consumers must assemble tool-call deltas.
                toolCalls.forEach((t, index) => {
                    res.write(chunk({ tool_calls: [{ index, id: t.id, type: "function", function: { name: t.function.name, arguments: "" } }] }, null));
                    res.write(chunk({ tool_calls: [{ index, function: { arguments: t.function.arguments } }] }, null));
                });
                res.write(chunk({}, "tool_calls", { usage }));
                res.end("data: [DONE]\n\n");
                return;
            }
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

    const listener = await listenOnLoopback(server, opts.port ?? 0, opts.host);
    const port = listener.port;
    return {
        baseUrl: `http://127.0.0.1:${port}/v1`,
        model,
        port,
        requests,
        chatRequests: () => requests.filter((r) => r.messages !== undefined),
        setReplyDelayMs: (ms: number) => {
            replyDelayMs = Math.max(0, ms);
        },
        stop: listener.stop,
    };
}
