/**
 * tenantSessionConfig's pure parts: workspace rules, the permission handler's decisions and the
 * managed policy it sends. The red-team check (test/smoke/suite.test.ts, smoke/redteam.ts) proves the
 * same settings against the real CLI's tools.
 */
import { describe, expect, it, vi } from "vitest";
import type { PermissionRequest } from "@github/copilot-sdk";
import {
    NEVER_TENANT_TOOLS,
    SHELL_TOOLS,
    TenantWorkspaceError,
    createTenantSession,
    isInsideWorkspace,
    tenantManagedSettings,
    tenantPermissionHandler,
    tenantSessionConfig,
    tenantWorkspace,
} from "@copilot-fleet/client";

const SSP = "/home/copilot/.copilot/session-state";
const ID = "u1-0123456789abcdef0123456789abcdef-fedcba9876543210fedcba9876543210";
const WS = `${SSP}/${ID}/files`;
const inv = { sessionId: ID };
const req = (r: Record<string, unknown>): PermissionRequest => r as unknown as PermissionRequest;

describe("tenantWorkspace", () => {
    it("is the session's own files folder under the session state", () => {
        expect(tenantWorkspace(SSP, ID)).toBe(WS);
    });
    it.each([
        ["../x", "cannot name a folder"],
        ["a/b", "cannot name a folder"],
        ["", "cannot name a folder"],
        [".hidden", "cannot name a folder"],
    ])("refuses session id %j", (id, msg) => {
        expect(() => tenantWorkspace(SSP, id)).toThrow(TenantWorkspaceError);
        expect(() => tenantWorkspace(SSP, id)).toThrow(msg);
    });
    it.each([
        ["relative/state", "is not absolute"],
        ["/home/../etc", "is not in normal form"],
        ["/home//copilot", "is not in normal form"],
        ["/", "too close to the filesystem root"],
        ["/home/co*pilot", "characters a permission rule cannot hold"],
        ["/home/a)b", "characters a permission rule cannot hold"],
    ])("refuses session state path %j", (p, msg) => {
        expect(() => tenantWorkspace(p, ID)).toThrow(msg);
    });
});

describe("isInsideWorkspace", () => {
    it.each([
        [WS, true],
        [`${WS}/a/b.txt`, true],
        ["notes.txt", true],
        ["./sub/../notes.txt", true],
        ["..", false],
        [`../../${ID}x/files/a`, false],
        [`${WS}x/a`, false],
        [`${WS}/../events.jsonl`, false],
        ["/proc/self/environ", false],
        ["", false],
        [`${WS}/a\0b`, false],
    ])("%j → %s", (p, inside) => {
        expect(isInsideWorkspace(WS, p)).toBe(inside);
    });
});

describe("tenantPermissionHandler", () => {
    const handler = tenantPermissionHandler(WS);
    it("approves reads and writes inside the workspace", async () => {
        expect(await handler(req({ kind: "read", path: `${WS}/a.txt` }), inv)).toEqual({ kind: "approve-once" });
        expect(await handler(req({ kind: "write", fileName: `${WS}/b.txt` }), inv)).toEqual({ kind: "approve-once" });
    });
    it("refuses reads and writes outside it, whatever path spelling", async () => {
        for (const r of [
            { kind: "read", path: `${SSP}/other/events.jsonl` },
            { kind: "read", path: "/proc/self/environ" },
            { kind: "read", path: `${WS}/../../other/events.jsonl` },
            { kind: "read", path: `${WS}/link`, resolvedPath: "/etc/passwd" },
            { kind: "read" },
            { kind: "write", fileName: `${SSP}/other/files/x` },
            { kind: "write", fileName: `${WS}/x`, resolvedPath: `${SSP}/other/files/x` },
        ]) {
            expect(await handler(req(r), inv)).toMatchObject({ kind: "reject" });
        }
    });
    it("refuses anything the runtime's managed policy flagged, even inside the workspace", async () => {
        expect(await handler(req({ kind: "read", path: `${WS}/link/x`, managedApprovalRequired: true }), inv)).toMatchObject({
            kind: "reject",
            feedback: expect.stringContaining("outside this session's workspace"),
        });
    });
    it.each(["mcp", "url", "memory", "hook", "extension-management", "extension-permission-access", "extension-env-access", "factory", "something-new"])(
        "refuses %s requests",
        async (kind) => {
            expect(await handler(req({ kind }), inv)).toMatchObject({ kind: "reject", feedback: expect.stringContaining(`${kind} requests are not available`) });
        },
    );
    it("refuses shell unless the server sandboxes commands", async () => {
        expect(await handler(req({ kind: "shell", fullCommandText: "id" }), inv)).toMatchObject({ kind: "reject" });
        const sandboxed = tenantPermissionHandler(WS, { shell: "sandboxed" });
        expect(await sandboxed(req({ kind: "shell", fullCommandText: "id" }), inv)).toEqual({ kind: "approve-once" });
    });
    it("wraps the app's own handler: asked only about what the policy admits, its answer wins", async () => {
        const app = vi.fn(async () => ({ kind: "reject" as const, feedback: "user said no" }));
        const wrapped = tenantPermissionHandler(WS, { onPermissionRequest: app });
        expect(await wrapped(req({ kind: "custom-tool", toolName: "lookup" }), inv)).toEqual({ kind: "reject", feedback: "user said no" });
        expect(await wrapped(req({ kind: "write", fileName: `${WS}/ok.txt` }), inv)).toEqual({ kind: "reject", feedback: "user said no" });
        expect(app).toHaveBeenCalledTimes(2);
        await wrapped(req({ kind: "read", path: "/etc/passwd" }), inv);
        await wrapped(req({ kind: "mcp" }), inv);
        expect(app).toHaveBeenCalledTimes(2);
    });
});

describe("tenantSessionConfig", () => {
    it("offers the file tools only, excludes shell and the cross-session tools, and turns off shared stores", () => {
        const c = tenantSessionConfig({ workspace: WS });
        expect(c.workingDirectory).toBe(WS);
        expect(c.availableTools).toEqual(["view", "create", "edit", "grep", "glob"]);
        expect(c.excludedTools).toEqual([...NEVER_TENANT_TOOLS, ...SHELL_TOOLS]);
        expect(c).toMatchObject({
            enableSessionStore: false,
            skipEmbeddingRetrieval: true,
            embeddingCacheStorage: "in-memory",
            enableFileHooks: false,
            enableSkills: false,
            enableConfigDiscovery: false,
            enableHostGitOperations: false,
            mcpServers: {},
        });
        expect(c.managedSettings).toEqual(tenantManagedSettings(WS));
    });
    it("sends a policy that admits file operations in the workspace only (// marks an absolute path)", () => {
        expect(tenantManagedSettings(WS)).toEqual({
            permissions: { deny: ["Shell(*)"], allow: [`Read(/${WS})`, `Read(/${WS}/**)`, `Write(/${WS}/**)`] },
        });
        expect(tenantManagedSettings(WS, "sandboxed").permissions?.deny).toBeUndefined();
        expect(tenantManagedSettings(WS, "sandboxed").permissions?.allow).toContain("Shell(*)");
    });
    it("keeps the app's own tools, and refuses built-in tools passed as the app's", () => {
        expect(tenantSessionConfig({ workspace: WS, tools: ["lookup"] }).availableTools).toContain("lookup");
        expect(() => tenantSessionConfig({ workspace: WS, tools: ["bash"] })).toThrow('tool "bash" is a built-in tool a tenant session may not use');
        expect(() => tenantSessionConfig({ workspace: WS, tools: ["sql"] })).toThrow('tool "sql"');
        expect(tenantSessionConfig({ workspace: WS, shell: "sandboxed" }).availableTools).toEqual(expect.arrayContaining([...SHELL_TOOLS]));
    });
    it("refuses a bad workspace or shell setting", () => {
        expect(() => tenantSessionConfig({ workspace: "files" })).toThrow("is not absolute");
        expect(() => tenantSessionConfig({ workspace: WS, shell: true as unknown as false })).toThrow('shell must be false or "sandboxed", not true');
    });
});

describe("createTenantSession", () => {
    it("creates without the missing folder, makes it, then moves the session in", async () => {
        const calls: string[] = [];
        const session = {
            rpc: {
                workspaces: { ensure: vi.fn(async () => void calls.push("ensure")) },
                metadata: { setWorkingDirectory: vi.fn(async (p: { workingDirectory: string }) => void calls.push(`cd ${p.workingDirectory}`)) },
            },
            disconnect: vi.fn(async () => undefined),
        };
        const client = {
            createSession: vi.fn(async (c: Record<string, unknown>) => {
                calls.push(`create ${String(c.sessionId)} cwd=${String(c.workingDirectory)}`);
                return session;
            }),
        };
        const got = await createTenantSession(client as never, { sessionId: ID, ...tenantSessionConfig({ workspace: WS }) });
        expect(got).toBe(session);
        expect(calls).toEqual([`create ${ID} cwd=undefined`, "ensure", `cd ${WS}`]);
        expect(client.createSession.mock.calls[0][0]).toHaveProperty("managedSettings");
    });
    it("disconnects and names the workspace when the folder cannot be entered", async () => {
        const session = {
            rpc: { workspaces: { ensure: async () => undefined }, metadata: { setWorkingDirectory: async () => Promise.reject(new Error("Directory does not exist")) } },
            disconnect: vi.fn(async () => undefined),
        };
        await expect(createTenantSession({ createSession: async () => session } as never, { sessionId: ID, ...tenantSessionConfig({ workspace: WS }) })).rejects.toThrow(
            `could not enter workspace "${WS}" of session ${ID}: Directory does not exist`,
        );
        expect(session.disconnect).toHaveBeenCalled();
    });
});
