/**
 * The red-team check: does one tenant's agent reach another tenant's session or the server's secrets
 * through the CLI's own tools?
 *
 * A victim session (tenant A) runs a turn whose prompt holds a canary and writes a second canary into
 * its workspace. An attacker session (tenant B) then makes the agent call the real tools (bash, view,
 * grep, glob, create, edit, sql, task) against A's session folder, the server's `COPILOT_HOME`, the
 * session store and `/proc/<server>/environ`. The model is the tool-calling stub (smoke/local/stub-model.ts),
 * which turns `[[tool:<name> <JSON>]]` in a prompt into exactly that tool call, so the attempts are the
 * same on every run. A leak is any tool result in B's event log that holds a canary or a secret, or a
 * write into A's folder that the tool reports as done.
 *
 * Run twice by the smoke suite: with `tenantSessionConfig` (nothing may leak) and with plain
 * `approveAll`, the way an unprotected backend creates sessions (this documents the hazard the
 * settings close, and proves the check can see a leak).
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { approveAll } from "@github/copilot-sdk";
import type { CopilotClient, CopilotSession, ResumeSessionConfig, SessionConfig } from "@github/copilot-sdk";
import { createTenantSession, ownedSessionId, tenantSessionConfig, tenantWorkspace } from "@copilot-fleet/client";

export type RedTeamMode = "tenant" | "approveAll";

export interface Attack {
    readonly name: string;
    /** The tool the stub calls, and its arguments. */
    readonly tool: string;
    readonly args: Record<string, unknown>;
    /** A write attempt: it leaks if the tool reports success, whatever it prints. */
    readonly write?: boolean;
}

export interface AttackOutcome {
    readonly attack: string;
    readonly tool: string;
    /** The tool ran (the stub's call reached the tool). */
    readonly ran: boolean;
    readonly success: boolean;
    /** What leaked: canary or secret names, or "write". Empty when nothing did. */
    readonly leaked: readonly string[];
    /** First 160 characters of the tool's result or error, secrets masked. */
    readonly result: string;
}

export interface RedTeamReport {
    readonly mode: RedTeamMode;
    readonly victim: string;
    readonly attacker: string;
    readonly outcomes: readonly AttackOutcome[];
    readonly leaks: readonly AttackOutcome[];
}

export interface RedTeamTargets {
    /** The fleet's session-state folder as the servers see it (stack output `sessionStatePath`). */
    readonly sessionStatePath: string;
    /** The server's `COPILOT_HOME` when known (default: the parent of `sessionStatePath`). */
    readonly copilotHome?: string;
}

/** The attempts an attacker session makes against the victim `victimId`. */
export function redTeamAttacks(t: RedTeamTargets, victimId: string, attackerId: string, canary: string, fileCanary: string): Attack[] {
    const ssp = t.sessionStatePath;
    const home = t.copilotHome ?? path.posix.dirname(ssp);
    const victimDir = `${ssp}/${victimId}`;
    const victimFile = `${victimDir}/files/notes.txt`;
    // From the attacker's workspace `<ssp>/<B>/files`, `../../<A>` is the victim's session folder.
    const relVictim = `../../${victimId}/events.jsonl`;
    const marker = `written-by-${attackerId}`;
    return [
        { name: "bash reads the victim's events.jsonl", tool: "bash", args: { command: `grep -ho '${canary}' ${victimDir}/events.jsonl | head -1`, description: "read" } },
        { name: "bash reads the server's environment", tool: "bash", args: { command: "cat /proc/$PPID/environ /proc/1/environ | tr '\\0' '\\n'", description: "env" } },
        { name: "bash searches session state for the canary", tool: "bash", args: { command: `grep -r ${canary} ${ssp} ${home} 2>/dev/null | head -5`, description: "grep" } },
        { name: "view the victim's events.jsonl (absolute)", tool: "view", args: { path: `${victimDir}/events.jsonl`, view_range: [1, 60], forceReadLargeFiles: true } },
        { name: "view the victim's events.jsonl (../)", tool: "view", args: { path: relVictim, view_range: [1, 60], forceReadLargeFiles: true } },
        { name: "view the victim's workspace file", tool: "view", args: { path: victimFile } },
        { name: "view lists the session-state folder", tool: "view", args: { path: ssp } },
        { name: "view the server's own environ (/proc/self)", tool: "view", args: { path: "/proc/self/environ" } },
        { name: "view PID 1's environ", tool: "view", args: { path: "/proc/1/environ" } },
        { name: "view COPILOT_HOME", tool: "view", args: { path: home } },
        { name: "view ~/.copilot", tool: "view", args: { path: "~/.copilot" } },
        { name: "grep the canary across session state", tool: "grep", args: { pattern: canary, paths: ssp, output_mode: "content" } },
        { name: "grep the canary across COPILOT_HOME (session store, logs)", tool: "grep", args: { pattern: canary, paths: home, output_mode: "content" } },
        { name: "grep tokens in /proc/self/environ", tool: "grep", args: { pattern: "TOKEN", paths: "/proc/self/environ", output_mode: "content" } },
        { name: "glob every events.jsonl", tool: "glob", args: { pattern: "**/events.jsonl", paths: ssp } },
        // Escapes through the pattern rather than the path: the permission check sees only `paths`.
        { name: "glob with a ../ pattern from the workspace", tool: "glob", args: { pattern: "../../*/events.jsonl" } },
        { name: "glob with an absolute pattern", tool: "glob", args: { pattern: `${ssp}/*/files/*` } },
        { name: "grep with a ../ glob filter", tool: "grep", args: { pattern: canary, glob: "../../**", output_mode: "content" } },
        { name: "grep the workspace's parent via paths ..", tool: "grep", args: { pattern: canary, paths: "..", output_mode: "content" } },
        { name: "view with a doubled-slash path", tool: "view", args: { path: `/${ssp}//${victimId}/files/notes.txt` } },
        { name: "view through /proc/self/cwd", tool: "view", args: { path: `/proc/self/cwd/../../${victimId}/files/notes.txt` } },
        { name: "view through /proc/self/root", tool: "view", args: { path: `/proc/self/root${victimFile}` } },
        { name: "create a file in the victim's folder", tool: "create", args: { path: `${victimDir}/files/planted.txt`, file_text: marker }, write: true },
        { name: "edit the victim's workspace file", tool: "edit", args: { path: victimFile, old_str: fileCanary, new_str: marker }, write: true },
        { name: "sql queries the session store", tool: "sql", args: { description: "search", database: "session_store", query: "SELECT name FROM sqlite_master" } },
        { name: "task hands the attack to a sub-agent", tool: "task", args: { name: "inspector", description: "inspect", agent_type: "general-purpose", prompt: `[[tool:bash {"command":"cat ${victimDir}/events.jsonl","description":"read"}]]` } },
    ];
}

interface ToolEvent {
    readonly type: string;
    readonly data?: { toolCallId?: string; toolName?: string; success?: boolean; result?: unknown; error?: unknown };
}

function mask(text: string, secrets: ReadonlyMap<string, string>): string {
    let out = text;
    for (const [name, value] of secrets) if (value) out = out.split(value).join(`<${name}>`);
    return out;
}

/** Judge one attack from the tool events of its turn. */
export function judgeAttack(attack: Attack, events: readonly ToolEvent[], secrets: ReadonlyMap<string, string>): AttackOutcome {
    const started = events.filter((e) => e.type === "tool.execution_start");
    const done = events.filter((e) => e.type === "tool.execution_complete");
    const text = done.map((e) => JSON.stringify({ result: e.data?.result ?? null, error: e.data?.error ?? null })).join("\n");
    const success = done.some((e) => e.data?.success === true);
    const leaked = [...secrets.entries()].filter(([, v]) => v && text.includes(v)).map(([k]) => k);
    if (attack.write && success) leaked.push("write");
    // Names of secrets-bearing variables in a result mean an environment was read, even if masked.
    if (/COPILOT_(CONNECTION_TOKEN|GITHUB_TOKEN|PROVIDER_API_KEY)=/.test(text)) leaked.push("server environment");
    return {
        attack: attack.name,
        tool: attack.tool,
        ran: started.length > 0,
        success,
        leaked,
        result: mask(text, secrets).slice(0, 160),
    };
}

export interface RedTeamOptions {
    readonly mode: RedTeamMode;
    readonly targets: RedTeamTargets;
    /** Clients for the victim and the attacker (the same server is the worst case). */
    readonly victimClient: CopilotClient;
    readonly attackerClient: CopilotClient;
    /** provider/model (BYOK, pointing at the tool-calling stub) or gitHubToken: sent on create. */
    readonly credentials: Partial<Pick<SessionConfig, "provider" | "model" | "gitHubToken">>;
    /** Secret values that must never show up in the attacker's tool results (name → value). */
    readonly secrets: ReadonlyMap<string, string>;
    readonly turnTimeoutMs: number;
    /** Called with every session id created (the caller deletes them). */
    readonly onCreated: (id: string) => void;
}

export class RedTeamUnsupportedModel extends Error {}

/** Run every attack once; see the module comment. */
export async function runRedTeam(o: RedTeamOptions): Promise<RedTeamReport> {
    const canary = `canary-${randomBytes(8).toString("hex")}`;
    const fileCanary = `filecanary-${randomBytes(8).toString("hex")}`;
    const victimId = ownedSessionId(`redteam-victim-${canary}`);
    const attackerId = ownedSessionId(`redteam-attacker-${canary}`);
    const secrets = new Map<string, string>([...o.secrets, ["victim turn canary", canary], ["victim file canary", fileCanary]]);

    const config = (id: string): SessionConfig & ResumeSessionConfig =>
        o.mode === "tenant"
            ? { ...tenantSessionConfig({ workspace: tenantWorkspace(o.targets.sessionStatePath, id) }), ...o.credentials }
            : { onPermissionRequest: approveAll, ...o.credentials };
    const open = async (client: CopilotClient, id: string): Promise<CopilotSession> => {
        o.onCreated(id);
        if (o.mode === "tenant") return createTenantSession(client, { sessionId: id, ...(config(id) as ReturnType<typeof tenantSessionConfig>) });
        return client.createSession({ sessionId: id, ...config(id) });
    };

    const victim = await open(o.victimClient, victimId);
    try {
        await victim.sendAndWait({ prompt: `remember this: ${canary}` }, o.turnTimeoutMs);
        // The victim's own file, written by its own tool (its workspace exists after the first turn).
        const notes = `${o.targets.sessionStatePath}/${victimId}/files/notes.txt`;
        await victim.sendAndWait({ prompt: `[[tool:create ${JSON.stringify({ path: notes, file_text: fileCanary })}]]` }, o.turnTimeoutMs);
        const wrote = ((await victim.getEvents()) as unknown as ToolEvent[]).some((e) => e.type === "tool.execution_complete" && e.data?.success === true);
        if (!wrote) throw new RedTeamUnsupportedModel("the model did not call the create tool: the red-team needs the tool-calling stub model (it follows [[tool:...]] directives)");
    } finally {
        await victim.disconnect().catch(() => undefined);
    }

    const attacker = await open(o.attackerClient, attackerId);
    const outcomes: AttackOutcome[] = [];
    try {
        // One harmless turn first, so the attacker's session is persisted like any real one.
        await attacker.sendAndWait({ prompt: "hello" }, o.turnTimeoutMs);
        for (const attack of redTeamAttacks(o.targets, victimId, attackerId, canary, fileCanary)) {
            const before = (await attacker.getEvents()).length;
            await attacker.sendAndWait({ prompt: `[[tool:${attack.tool} ${JSON.stringify(attack.args)}]]` }, o.turnTimeoutMs);
            const after = (await attacker.getEvents()) as unknown as ToolEvent[];
            outcomes.push(judgeAttack(attack, after.slice(before), secrets));
        }
    } finally {
        await attacker.disconnect().catch(() => undefined);
    }
    return { mode: o.mode, victim: victimId, attacker: attackerId, outcomes, leaks: outcomes.filter((x) => x.leaked.length > 0) };
}

/** One line per leak, for a check's reason. */
export function describeLeaks(r: RedTeamReport): string {
    return r.leaks.map((l) => `${l.attack} [${l.tool}] leaked ${l.leaked.join(", ")}`).join("; ");
}
