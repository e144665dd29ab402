/**
 * The image's tool guard (images/copilot-cli/tools/copilot-tool-guard), run directly with hook inputs
 * shaped like the CLI's (measured: {sessionId, timestamp, cwd, toolName, toolArgs}). The red-team
 * (test/smoke/redteam.test.ts) proves it inside a real server.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_TOOLS_DIR } from "../../smoke/local/cli-server";

const GUARD = path.join(IMAGE_TOOLS_DIR, "copilot-tool-guard");
const SID = "u1-aaaa-1";
let home: string;
let ws: string;

function guard(input: unknown, raw = false): { decision?: string; reason?: string; stdout: string } {
    const r = spawnSync(GUARD, [], { input: raw ? String(input) : JSON.stringify(input), env: { PATH: process.env.PATH, COPILOT_HOME: home }, encoding: "utf8" });
    expect(r.status).toBe(0);
    const out = r.stdout.trim();
    if (!out) return { stdout: "" };
    const j = JSON.parse(out) as { permissionDecision: string; permissionDecisionReason: string };
    return { decision: j.permissionDecision, reason: j.permissionDecisionReason, stdout: out };
}
const call = (toolName: string, toolArgs: unknown, cwd = ws, sessionId = SID) => guard({ sessionId, timestamp: 1, cwd, toolName, toolArgs });

beforeAll(() => {
    home = realpathSync(mkdtempSync(path.join(os.tmpdir(), "guard-")));
    ws = path.join(home, "session-state", SID, "files");
    mkdirSync(ws, { recursive: true });
    mkdirSync(path.join(home, "session-state", "other", "files"), { recursive: true });
    writeFileSync(path.join(ws, "a.txt"), "x");
    symlinkSync(path.join(home, "session-state", "other"), path.join(ws, "escape"));
    symlinkSync("/proc/self/cwd", path.join(ws, "cwdlink"));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("copilot-tool-guard", () => {
    it("is a bash script the image can run (syntax check)", () => {
        execFileSync("bash", ["-n", GUARD]);
    });
    it.each(["bash", "read_bash", "write_bash", "stop_bash", "list_bash", "sql", "task", "skill", "read_agent", "write_agent", "list_agents"])("denies %s", (tool) => {
        expect(call(tool, { command: "id" }).decision).toBe("deny");
    });
    it("allows file tools inside the session's own folder, relative or absolute", () => {
        for (const [tool, args] of [
            ["view", { path: "a.txt" }],
            ["view", { path: "." }],
            ["view", { path: `${ws}/a.txt` }],
            ["create", { path: "new/dir/b.txt", file_text: "y" }],
            ["edit", { path: "a.txt", old_str: "x", new_str: "z" }],
            ["grep", { pattern: "x" }],
            ["grep", { pattern: "x", paths: "sub", glob: "**/*.ts" }],
            ["glob", { pattern: "**/*.txt" }],
            ["glob", { pattern: "*.txt", paths: [ws, "."] }],
        ] as const) {
            expect(call(tool, args), `${tool} ${JSON.stringify(args)}`).toEqual({ stdout: "" });
        }
    });
    it("denies every way out of the folder", () => {
        for (const [tool, args, cwd] of [
            ["view", { path: "../../other/files/x" }, ws],
            ["view", { path: `${home}/session-state/other/events.jsonl` }, ws],
            ["view", { path: "escape/events.jsonl" }, ws],
            ["view", { path: "cwdlink/x" }, ws],
            ["view", { path: "/proc/self/environ" }, ws],
            // Per-process links resolve differently for the hook and the CLI: refused even when they land inside.
            ["view", { path: `/proc/self/root${ws}/a.txt` }, ws],
            ["view", { path: "/proc/self/cwd/x" }, ws],
            ["view", { path: "/dev/fd/3" }, ws],
            ["view", { path: "~/.copilot" }, ws],
            ["view", { path: "a.txt" }, home],
            ["view", {}, ws],
            ["create", { path: `${ws}x/b.txt`, file_text: "" }, ws],
            ["grep", { pattern: "x", paths: ".." }, ws],
            ["grep", { pattern: "x" }, home],
            ["grep", { pattern: "x", glob: "../../**" }, ws],
            ["glob", { pattern: "../*/files/*" }, ws],
            ["glob", { pattern: `${home}/**` }, ws],
            ["glob", { pattern: "a/../../x" }, ws],
            ["glob", { pattern: "*", paths: ["."] }, "relative/cwd"],
            // Control characters would split one argument into two lines of the guard's reader.
            ["view", { path: "a.txt\n/../../../../etc/passwd" }, ws],
            ["view", { path: "a.txt\u0000x" }, ws],
            ["glob", { pattern: "*.txt\n../../*" }, ws],
        ] as const) {
            const r = call(tool, args, cwd);
            expect(r.decision, `${tool} ${JSON.stringify(args)} from ${cwd}`).toBe("deny");
            expect(r.reason).toMatch(/^copilot-fleet tool guard: /);
        }
    });
    it("fails closed on malformed input and odd session ids", () => {
        expect(guard("not json", true).decision).toBe("deny");
        expect(guard({ toolName: "view" }).decision).toBe("deny");
        expect(call("view", "a.txt").decision).toBe("deny");
        expect(call("view", { path: "a.txt" }, ws, "../other").decision).toBe("deny");
        const noHome = spawnSync(GUARD, [], { input: JSON.stringify({ sessionId: SID, cwd: ws, toolName: "view", toolArgs: { path: "a.txt" } }), env: { PATH: process.env.PATH }, encoding: "utf8" });
        expect(noHome.stdout).toContain('"permissionDecision":"deny"');
    });
    it("leaves the application's own tools to the client's permission flow", () => {
        expect(call("lookup_order", { id: 1 })).toEqual({ stdout: "" });
    });
});
