/**
 * copilot-session-cleanup against a scripted JSON-RPC server on 127.0.0.1: the answers a real CLI
 * would not send on demand (escapes, surrogate pairs, notifications before the answer, garbage,
 * oversized frames), so the tool's framing and JSON reader are exercised at their edges.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../components/contract/server";
import { CLEANUP_EXIT } from "../../components/contract/cleanup";
import { compileCleanupTool } from "./build";

let work: string;
let tool: string;
const servers: net.Server[] = [];

beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), "copilot-cleanup-proto-"));
    tool = compileCleanupTool(work);
});
afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    rmSync(work, { recursive: true, force: true });
});

interface Request {
    id: number;
    method: string;
    params: Record<string, unknown>;
}
type Reply = (req: Request) => string | undefined;

function frame(body: string): string {
    return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** A server that answers each request with `reply(req)` (raw bytes, already framed) and records them. */
async function fakeServer(reply: Reply): Promise<{ port: number; requests: Request[] }> {
    const requests: Request[] = [];
    const server = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.on("data", (d) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
                const end = buf.indexOf("\r\n\r\n");
                if (end < 0) return;
                const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
                if (buf.length < end + 4 + len) return;
                const req = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()) as Request;
                buf = buf.subarray(end + 4 + len);
                requests.push(req);
                const out = reply(req);
                if (out !== undefined) sock.write(out);
            }
        });
        sock.on("error", () => undefined);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { port: (server.address() as net.AddressInfo).port, requests };
}

function result(id: number, value: unknown): string {
    return frame(JSON.stringify({ jsonrpc: "2.0", id, result: value }));
}

function run(args: string[]): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(tool, args, { env: { PATH: process.env.PATH, [ENV.connectionToken]: "tok" }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
        child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("error", reject);
        child.on("exit", (code) => {
            clearTimeout(timer);
            resolve({ code, stderr: err, lines: out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) });
        });
    });
}

const OLD = "2020-01-01T00:00:00.000Z";
const NOW = () => new Date().toISOString();

describe("copilot-session-cleanup protocol edges", () => {
    it("decodes escaped ids and nested, escaped metadata; skips notifications; deletes exactly the old ones", async () => {
        // Raw JSON text, so the escapes are on the wire as a server may send them.
        const list =
            '{"sessions":[' +
            `{"summary":"say \\"hi\\" \\\\ \\u00fc \\ud83d\\ude80","context":{"cwd":"/x","nested":[{"sessionId":"decoy"}]},"sessionId":"aaaa\\u002d1111","modifiedTime":"${OLD}"},` +
            `{"sessionId":"bbbb-2222","modifiedTime":"${NOW()}","isRemote":false},` +
            `{"sessionId":"cccc-3333","modifiedTime":"2020-01-01T02:00:00+02:00"}` +
            "]}";
        const srv = await fakeServer((req) => {
            if (req.method === "connect") return result(req.id, { protocolVersion: 3 });
            if (req.method === "session.list") {
                const note = frame(JSON.stringify({ jsonrpc: "2.0", method: "session.event", params: { id: 99, result: { sessions: [] } } }));
                return note + frame(`{"jsonrpc":"2.0","id":${req.id},"result":${list}}`);
            }
            if (req.method === "session.delete") return result(req.id, { success: true });
            return undefined;
        });
        const r = await run(["--endpoint", `127.0.0.1:${srv.port}`, "--ttl-hours", "1"]);
        expect(r.code, r.stderr).toBe(CLEANUP_EXIT.ran);
        expect(srv.requests[0]).toMatchObject({ method: "connect", params: { token: "tok" } });
        expect(srv.requests.filter((q) => q.method === "session.delete").map((q) => q.params.sessionId)).toEqual(["aaaa-1111", "cccc-3333"]);
        expect(r.lines.at(-1)).toMatchObject({ event: "cleanup.summary", listed: 3, fresh: 1, expired: 2, deleted: 2, errors: 0 });
    });

    it("a server that refuses as in use keeps the session and counts it; other refusals are errors (exit 1)", async () => {
        const srv = await fakeServer((req) => {
            if (req.method === "connect") return result(req.id, {});
            if (req.method === "session.list") return result(req.id, { sessions: [{ sessionId: "a", modifiedTime: OLD }, { sessionId: "b", modifiedTime: OLD }, { sessionId: "../etc", modifiedTime: OLD }] });
            if (req.method === "session.delete") {
                return req.params.sessionId === "a"
                    ? result(req.id, { success: false, error: "Cannot delete session a: it is currently in use by another process." })
                    : frame(JSON.stringify({ jsonrpc: "2.0", id: req.id, error: { code: -32000, message: "disk on fire" } }));
            }
            return undefined;
        });
        const r = await run(["--endpoint", `127.0.0.1:${srv.port}`, "--ttl-hours", "1"]);
        expect(r.code).toBe(CLEANUP_EXIT.sessionErrors);
        // A path-like id is never used (nor sent back to the server).
        expect(srv.requests.filter((q) => q.method === "session.delete").map((q) => q.params.sessionId)).toEqual(["a", "b"]);
        expect(r.lines.at(-1)).toMatchObject({ listed: 3, in_use: 1, deleted: 0, errors: 2, ok: false, exit_code: 1 });
        expect(r.lines.find((l) => l.session_id === "b")).toMatchObject({ action: "error", reason: "session.delete refused: disk on fire" });
    });

    it("keeps expired sessions whose folder is missing under --state-dir (a wrong mount must not go unnoticed)", async () => {
        const state = path.join(work, "state");
        mkdirSync(path.join(state, "present"), { recursive: true });
        const srv = await fakeServer((req) => {
            if (req.method === "connect") return result(req.id, {});
            if (req.method === "session.list") return result(req.id, { sessions: [{ sessionId: "present", modifiedTime: OLD }, { sessionId: "absent", modifiedTime: OLD }] });
            if (req.method === "session.delete") return result(req.id, { success: true });
            return undefined;
        });
        const r = await run(["--endpoint", `127.0.0.1:${srv.port}`, "--ttl-hours", "1", "--state-dir", state]);
        expect(srv.requests.filter((q) => q.method === "session.delete").map((q) => q.params.sessionId)).toEqual(["present"]);
        expect(r.lines.find((l) => l.session_id === "absent")).toMatchObject({ action: "error", reason: "session folder absent under --state-dir: No such file or directory" });
        expect(r.code).toBe(CLEANUP_EXIT.sessionErrors);
    });

    it.each([
        ["not JSON-RPC", (): string => "HTTP/1.1 400 Bad Request\r\n\r\n", /garbled answer: no Content-Length header/],
        ["malformed JSON", (): string => frame('{"jsonrpc":"2.0","id":1,"result":{"a":tru}}'), /garbled answer while waiting for the connect answer: not a JSON object/],
        ["unterminated string", (): string => frame('{"jsonrpc":"2.0","id":1,"result":"abc}'), /not a JSON object/],
        ["a bad escape", (): string => frame('{"jsonrpc":"2.0","id":1,"result":"\\x41"}'), /not a JSON object/],
        ["too deep", (): string => frame(`{"jsonrpc":"2.0","id":1,"result":${"[".repeat(100)}${"]".repeat(100)}}`), /not a JSON object/],
        ["an oversized frame", (): string => "Content-Length: 99999999\r\n\r\n{", /answer too large/],
    ])("%s → exit 3 with the reason", async (_name, answer, reason) => {
        const srv = await fakeServer(() => answer());
        const r = await run(["--endpoint", `127.0.0.1:${srv.port}`, "--ttl-hours", "1", "--timeout-ms", "2000"]);
        expect(r.code).toBe(CLEANUP_EXIT.connect);
        expect(r.lines[0]).toMatchObject({ event: "cleanup.error", stage: "connect" });
        expect(r.lines[0].error).toMatch(reason);
    });

    it("a silent server times out within the request timeout", async () => {
        const srv = await fakeServer(() => undefined);
        const t0 = Date.now();
        const r = await run(["--endpoint", `127.0.0.1:${srv.port}`, "--ttl-hours", "1", "--timeout-ms", "500"]);
        expect(r.code).toBe(CLEANUP_EXIT.connect);
        expect(r.lines[0].error).toBe("timeout while waiting for the connect answer");
        expect(Date.now() - t0).toBeLessThan(5000);
    });
});
