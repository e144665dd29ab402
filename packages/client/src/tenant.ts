/**
 * Session settings that keep one tenant's agent inside its own workspace on a shared fleet.
 *
 * Why this exists: the CLI's tools (bash, view, grep, glob, create, edit, ...) run inside the server
 * process's account, with the server's filesystem view. Without restrictions, a prompt-injected session
 * reads other sessions' conversations under `$COPILOT_HOME/session-state`, the server's tokens from
 * `/proc/self/environ` (the `view` tool runs in the server process itself) and anything else the
 * server can read. Server flags such as `--deny-tool` do not reach sessions created through the SDK
 * (measured on CLI 1.0.102): policy reaches a session only through the config its client sends.
 *
 * The settings are three layers that overlap on purpose (the policy and the handler each check every
 * read and write path the runtime asks about; only the policy sees through symlinks):
 * 1. **Tool availability**: only the file tools (`view`, `create`, `edit`, `grep`, `glob`) plus your
 *    own tools are offered. Shell, `sql` (it queries the server-wide session store), `task` and the
 *    agent tools (sub-agents), and `skill` are not.
 * 2. **Managed permission policy** (`managedSettings.permissions`), enforced by the CLI runtime on
 *    the canonical path (a symlink inside the workspace that points elsewhere is refused, measured):
 *    reads and writes are admitted only inside the workspace; `Shell(*)` is denied.
 * 3. **A permission handler** that refuses anything the policy flags (`managedApprovalRequired`),
 *    any read or write outside the workspace, and every request kind a tenant never needs (MCP, URL,
 *    memory, hooks, extensions), then asks your own handler about the rest.
 * Plus the session options the SDK documents for multi-tenant use: no cross-session store, no shared
 * embedding cache, no file hooks, skills, config discovery or host git operations.
 *
 * It is not persisted by the CLI: pass the same settings on `createSession` and on every `resumeSession`.
 */
import * as path from "node:path";
// resolution-mode: the SDK's declarations are ECMAScript modules ("type": "module", also under its
// `require` condition), so a CommonJS file may import their types only with this attribute under
// node16/nodenext resolution. Without it, such projects fail to type-check our .d.ts.
import type {
    CopilotClient,
    CopilotSession,
    ManagedSettings,
    PermissionHandler,
    PermissionRequestResult,
    ResumeSessionConfig,
    SessionConfig,
} from "@github/copilot-sdk" with { "resolution-mode": "import" };

/** The built-in tools a tenant session is offered: file tools only, confined to the workspace. */
export const TENANT_FILE_TOOLS = ["view", "create", "edit", "grep", "glob"] as const;
/** The CLI's shell tools, offered only with `shell: "sandboxed"`. */
export const SHELL_TOOLS = ["bash", "read_bash", "stop_bash", "list_bash"] as const;
/**
 * Built-in tools a tenant session is never offered: `sql` reaches the server-wide session store,
 * `task` and the agent tools start sub-agents, `skill` loads skills from the server's folders.
 */
export const NEVER_TENANT_TOOLS = ["sql", "task", "read_agent", "list_agents", "write_agent", "skill"] as const;

/** Permission request kinds the handler passes to your own handler (after its own checks). */
const DELEGATED_KINDS = new Set(["read", "write", "custom-tool", "shell"]);

export interface TenantSessionOptions {
    /**
     * The session's own folder on the server: an absolute, canonical path (no symlink on the way).
     * Use `tenantWorkspace(sessionStatePath, sessionId)`: the CLI's per-session `files/` folder, which
     * sits on the fleet's shared session storage (so it follows the session to any replica) and is
     * deleted with the session.
     */
    readonly workspace: string;
    /**
     * Your own permission prompt. It is asked only about requests the tenant policy already admits:
     * your custom tools, reads and writes inside the workspace that the runtime leaves to the host, and
     * shell commands when `shell` is `"sandboxed"`. Default: approve those.
     */
    readonly onPermissionRequest?: PermissionHandler;
    /** Names of your own tools (`tools` in the session config) to keep available. Default none. */
    readonly tools?: readonly string[];
    /**
     * `false` (default): no shell tools, and `Shell(*)` denied by policy. `"sandboxed"`: offer the
     * shell tools; only for servers that run every command in an OS sandbox of their own, because a
     * shell reaches everything the server's account can (other sessions, `/proc/<server pid>/environ`).
     */
    readonly shell?: false | "sandboxed";
}

/** What a backend spreads into `createSession` and every `resumeSession`. */
export type TenantSessionConfig = Required<Pick<SessionConfig, "workingDirectory" | "onPermissionRequest" | "availableTools" | "excludedTools" | "managedSettings">> &
    Pick<
        SessionConfig,
        | "enableSessionStore"
        | "skipEmbeddingRetrieval"
        | "embeddingCacheStorage"
        | "enableFileHooks"
        | "enableSkills"
        | "enableConfigDiscovery"
        | "enableHostGitOperations"
        | "enableOnDemandInstructionDiscovery"
        | "mcpServers"
    >;

/** The settings were given a workspace that cannot be confined (relative, `..`, root, control characters). */
export class TenantWorkspaceError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TenantWorkspaceError";
    }
}

const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
// Characters the managed-policy rule syntax or a path check could misread.
const UNSAFE_PATH_CHARS = /[\0-\x1f\x7f()*?[\]{}\\]/;

function checkWorkspace(workspace: string): string {
    if (typeof workspace !== "string" || workspace.length === 0) throw new TenantWorkspaceError("workspace must be a non-empty absolute path");
    if (!workspace.startsWith("/")) throw new TenantWorkspaceError(`workspace ${JSON.stringify(workspace)} is not absolute; pass the server-side path from tenantWorkspace()`);
    if (UNSAFE_PATH_CHARS.test(workspace)) {
        throw new TenantWorkspaceError(`workspace ${JSON.stringify(workspace)} contains characters a permission rule cannot hold (control characters, ( ) * ? [ ] { } \\)`);
    }
    const normal = path.posix.normalize(workspace).replace(/\/+$/, "");
    if (normal !== workspace.replace(/\/+$/, "") || workspace.split("/").includes("..")) {
        throw new TenantWorkspaceError(`workspace ${JSON.stringify(workspace)} is not in normal form (no ".", "..", or doubled slashes)`);
    }
    if (normal === "" || normal.split("/").length < 3) throw new TenantWorkspaceError(`workspace ${JSON.stringify(workspace)} is too close to the filesystem root to be one session's folder`);
    return normal;
}

/**
 * The session's own workspace on the server: `<sessionStatePath>/<sessionId>/files`. `sessionStatePath`
 * is the stack output of that name (the same on every replica); `sessionId` is the id you create the
 * session with (e.g. `ownedSessionId(userId)`), so the path is known before the session exists.
 */
export function tenantWorkspace(sessionStatePath: string, sessionId: string): string {
    if (!SESSION_ID.test(sessionId)) {
        throw new TenantWorkspaceError(`session id ${JSON.stringify(sessionId)} cannot name a folder: use letters, digits, "-" and "_" (ownedSessionId() makes such ids)`);
    }
    return checkWorkspace(`${checkWorkspace(sessionStatePath)}/${sessionId}/files`);
}

/** True when `p` (absolute, or relative to `workspace`) is `workspace` or inside it, after normalising. */
export function isInsideWorkspace(workspace: string, p: string): boolean {
    if (typeof p !== "string" || p.length === 0 || p.includes("\0")) return false;
    const resolved = path.posix.resolve(workspace, p);
    return resolved === workspace || resolved.startsWith(`${workspace}/`);
}

function reject(feedback: string): PermissionRequestResult {
    return { kind: "reject", feedback };
}

/**
 * The permission handler of `tenantSessionConfig`: refuses what the tenant policy does not admit,
 * then asks `inner` (default: approve once).
 */
export function tenantPermissionHandler(workspaceIn: string, opts: Pick<TenantSessionOptions, "onPermissionRequest" | "shell"> = {}): PermissionHandler {
    const workspace = checkWorkspace(workspaceIn);
    const inner = opts.onPermissionRequest;
    return async (request, invocation) => {
        // The runtime's own policy flagged it (outside the allow list, or a canonical path that leaves
        // the workspace): no prompt may override that for a tenant.
        if (request.managedApprovalRequired === true) return reject("refused by the tenant policy: outside this session's workspace");
        if (!DELEGATED_KINDS.has(request.kind)) return reject(`refused by the tenant policy: ${request.kind} requests are not available to this session`);
        if (request.kind === "read") {
            const paths = [request.path, request.resolvedPath].filter((x): x is string => typeof x === "string");
            if (paths.length === 0 || !paths.every((p) => isInsideWorkspace(workspace, p))) return reject("refused by the tenant policy: reads stay inside this session's workspace");
        }
        if (request.kind === "write") {
            const paths = [request.fileName, request.resolvedPath].filter((x): x is string => typeof x === "string");
            if (paths.length === 0 || !paths.every((p) => isInsideWorkspace(workspace, p))) return reject("refused by the tenant policy: writes stay inside this session's workspace");
        }
        if (request.kind === "shell" && opts.shell !== "sandboxed") return reject("refused by the tenant policy: no shell for this session");
        return inner ? inner(request, invocation) : { kind: "approve-once" };
    };
}

/** The managed permission policy: file operations only inside the workspace; no shell unless sandboxed. */
export function tenantManagedSettings(workspaceIn: string, shell: TenantSessionOptions["shell"] = false): ManagedSettings {
    const workspace = checkWorkspace(workspaceIn);
    // `//` marks an absolute path in the rule syntax (`Read(/x)` would be relative). `<ws>/**` does not
    // match the folder itself, so listing the workspace needs its own rule.
    const allow = [`Read(/${workspace})`, `Read(/${workspace}/**)`, `Write(/${workspace}/**)`];
    if (shell === "sandboxed") allow.push("Shell(*)");
    return {
        permissions: {
            ...(shell === "sandboxed" ? {} : { deny: ["Shell(*)"] }),
            allow,
        },
    };
}

/**
 * Recommended settings for one tenant's session on a shared fleet. Spread the result into
 * `createTenantSession` (or `createSession`, once the workspace exists) and into every `resumeSession`,
 * next to your `provider`/`model` or `gitHubToken`:
 *
 * ```ts
 * const workspace = tenantWorkspace(outputs.sessionStatePath, sessionId);
 * const session = await client.resumeSession(sessionId, { ...tenantSessionConfig({ workspace }), provider, model });
 * ```
 */
export function tenantSessionConfig(opts: TenantSessionOptions): TenantSessionConfig {
    const workspace = checkWorkspace(opts.workspace);
    const shell = opts.shell ?? false;
    if (shell !== false && shell !== "sandboxed") throw new TenantWorkspaceError(`shell must be false or "sandboxed", not ${JSON.stringify(shell)}`);
    const own = [...(opts.tools ?? [])];
    for (const t of own) {
        if ((NEVER_TENANT_TOOLS as readonly string[]).includes(t) || (shell !== "sandboxed" && (SHELL_TOOLS as readonly string[]).includes(t))) {
            throw new TenantWorkspaceError(`tool ${JSON.stringify(t)} is a built-in tool a tenant session may not use; name only your own tools in "tools"`);
        }
    }
    const available = [...TENANT_FILE_TOOLS, ...(shell === "sandboxed" ? SHELL_TOOLS : []), ...own];
    const excluded = [...NEVER_TENANT_TOOLS, ...(shell === "sandboxed" ? [] : SHELL_TOOLS)];
    return {
        workingDirectory: workspace,
        onPermissionRequest: tenantPermissionHandler(workspace, { onPermissionRequest: opts.onPermissionRequest, shell }),
        availableTools: available,
        excludedTools: excluded,
        managedSettings: tenantManagedSettings(workspace, shell),
        // The SDK's multi-tenant options: no cross-session search store, no shared embedding cache.
        enableSessionStore: false,
        skipEmbeddingRetrieval: true,
        embeddingCacheStorage: "in-memory",
        // Nothing from the server's or the workspace's folders runs or loads: a tenant could otherwise
        // write `.github/hooks/` into its workspace and have the server run them.
        enableFileHooks: false,
        enableSkills: false,
        enableConfigDiscovery: false,
        enableHostGitOperations: false,
        enableOnDemandInstructionDiscovery: false,
        mcpServers: {},
    };
}

/** The parts of a client `createTenantSession` uses. */
export type TenantClient = Pick<CopilotClient, "createSession">;

/**
 * Create a tenant session whose workspace does not exist yet: the CLI refuses a `workingDirectory`
 * that is missing, and only the server can make it. The session is created with the full tenant
 * policy (which already confines every tool to the workspace path), the CLI creates the session's
 * `files/` folder (`workspaces.ensure`), then the session moves into it. Resume with
 * `resumeSession(id, { ...tenantSessionConfig(...) })` as usual.
 */
export async function createTenantSession(
    client: TenantClient,
    config: SessionConfig & TenantSessionConfig & { readonly sessionId: string },
): Promise<CopilotSession> {
    const { workingDirectory, ...rest } = config;
    const session = await client.createSession(rest);
    try {
        await session.rpc.workspaces.ensure({});
        await session.rpc.metadata.setWorkingDirectory({ workingDirectory });
    } catch (e) {
        await session.disconnect().catch(() => undefined);
        throw new TenantWorkspaceError(`could not enter workspace ${JSON.stringify(workingDirectory)} of session ${config.sessionId}: ${(e as Error).message}`);
    }
    return session;
}

/** Re-exported so a backend can type a resume config without importing the SDK's names. */
export type TenantResumeConfig = ResumeSessionConfig & TenantSessionConfig;
