/**
 * copilot-session-cleanup (images/copilot-cli/tools) against a real local fleet: two Copilot CLI
 * servers sharing one session-state folder, offline BYOK turns against the stub model.
 *
 * Ageing is honest: the CLI's listed `modifiedTime` is the mtime of the session's files (measured:
 * rewriting workspace.yaml's `updated_at` changes nothing, `touch`ing the files does), so sessions are
 * aged with utimes and the test first checks that the server itself now lists them as old.
 *
 * The tool is pointed at replica A, which also holds the in-use session: A would delete that session
 * itself (a server ignores in-use locks naming its own PID, which is what every replica's lock looks
 * like in containers), so only the tool's own lock inspection keeps it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CopilotSession } from "@github/copilot-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../components/contract/server";
import { CLEANUP_EXIT } from "../../components/contract/cleanup";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";
import { ClientPool, sessionConfig, turn } from "../helpers/fleet";
import { compileCleanupTool } from "./build";

const TTL_HOURS = 24;
const OLD_MS = 72 * 3600_000;

let work: string;
let tool: string;
let fleet: LocalFleet;
let pool: ClientPool;
let stateDir: string;
let token: string;
const holders: ChildProcess[] = [];
const ids: Record<string, string> = {};

interface ToolRun {
    code: number | null;
    lines: Array<Record<string, unknown>>;
    stderr: string;
}

function runTool(args: string[], tok: string | undefined = token, timeoutMs = 60_000): ToolRun {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    if (tok !== undefined) env[ENV.connectionToken] = tok;
    const r = spawnSync(tool, args, { env, encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw r.error;
    const lines = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code: r.status, lines, stderr: r.stderr };
}

function summary(run: ToolRun): Record<string, unknown> {
    const s = run.lines.filter((l) => l.event === "cleanup.summary");
    expect(s, JSON.stringify(run.lines)).toHaveLength(1);
    return s[0];
}

function actions(run: ToolRun): Record<string, string> {
    const out: Record<string, string> = {};
    for (const l of run.lines) if (l.event === "cleanup.session") out[l.session_id as string] = l.action as string;
    return out;
}

/** Sets every entry under the session folder to `ms` ago; `skipLocks` keeps in-use lock files as they are. */
function age(id: string, ms: number, opts: { skipLocks?: boolean } = {}): void {
    const t = (Date.now() - ms) / 1000;
    const walk = (p: string): void => {
        const st = statSync(p);
        if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
        if (opts.skipLocks && /^inuse\.\d+\.(lock|hold)$/.test(path.basename(p))) return;
        utimesSync(p, t, t);
    };
    walk(path.join(stateDir, id));
}

function lockFiles(id: string): string[] {
    return readdirSync(path.join(stateDir, id)).filter((f) => /^inuse\.\d+\.(lock|hold)$/.test(f)).sort();
}

/** Writes an in-use lock the way the CLI does (inuse.<pid>.lock holding "<pid>\n", an empty .hold). */
function fakeLock(id: string, pid: number): void {
    writeFileSync(path.join(stateDir, id, `inuse.${pid}.lock`), `${pid}\n`);
    writeFileSync(path.join(stateDir, id, `inuse.${pid}.hold`), "");
}

async function listedIds(endpoint: string): Promise<Map<string, number>> {
    const c = pool.client(endpoint);
    await c.start();
    return new Map((await c.listSessions()).map((x) => [x.sessionId, Date.now() - x.modifiedTime.getTime()]));
}

async function newSession(endpoint: string, prompt: string): Promise<CopilotSession> {
    const s = await pool.client(endpoint).createSession(sessionConfig(fleet.outputs));
    await turn(s, prompt);
    return s;
}

beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "copilot-cleanup-test-"));
    tool = compileCleanupTool(work);

    fleet = await startLocalFleet({ replicas: 2, redis: false });
    token = fleet.outputs.connectionToken as string;
    stateDir = fleet.sessionStatePath as string;
    pool = new ClientPool(token);
    const A = fleet.server("replica-0");
    const B = fleet.server("replica-1");

    for (const name of ["old1", "old2", "fresh", "collideFresh", "collideStale"]) {
        // Quotes, backslashes and non-ASCII end up in the listed summary: the tool's JSON reader must cope.
        const s = await newSession(A.endpoint, `turn "for" ${name} \\ ünïcødé 🚀`);
        ids[name] = s.sessionId;
        await s.disconnect();
    }
    // Open on A and left open: A holds the flock on inuse.<A.pid>.hold.
    ids.inUse = (await newSession(A.endpoint, "turn for inUse")).sessionId;
    // Open on B, then B is SIGKILLed: its lock files stay, nobody holds their flock.
    ids.killedOld = (await newSession(B.endpoint, "turn for killedOld")).sessionId;
    ids.killedFresh = (await newSession(B.endpoint, "turn for killedFresh")).sessionId;
    expect(lockFiles(ids.killedOld)).toEqual([`inuse.${B.pid}.hold`, `inuse.${B.pid}.lock`]);
    await fleet.killReplica("replica-1", "SIGKILL");
    expect(lockFiles(ids.killedOld)).toEqual([`inuse.${B.pid}.hold`, `inuse.${B.pid}.lock`]);

    // Locks naming A's own PID (every replica's CLI has the same PID in containers), held by nobody.
    fakeLock(ids.collideFresh, A.pid);
    fakeLock(ids.collideStale, A.pid);

    for (const name of ["old1", "old2", "inUse", "collideStale", "killedOld"]) age(ids[name], OLD_MS);
    // Session data old, but the in-use lock recent: a holder the tool cannot see (another host).
    for (const name of ["collideFresh", "killedFresh"]) age(ids[name], OLD_MS, { skipLocks: true });
}, 180_000);

afterAll(async () => {
    for (const h of holders) h.kill("SIGKILL");
    await pool?.stopAll();
    await fleet?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("copilot-session-cleanup on a local fleet", () => {
    it("the server itself lists the aged sessions as older than the TTL", async () => {
        const byId = await listedIds(fleet.server("replica-0").endpoint);
        expect(byId.size).toBe(8);
        for (const name of ["old1", "old2", "inUse", "collideStale", "killedOld", "collideFresh", "killedFresh"]) {
            expect(byId.get(ids[name]), name).toBeGreaterThan(TTL_HOURS * 3600_000);
        }
        expect(byId.get(ids.fresh)).toBeLessThan(3600_000);
    });

    it("--dry-run reports what it would do and changes nothing", () => {
        const before = Object.fromEntries(Object.entries(ids).map(([n, id]) => [n, lockFiles(id)]));
        const run = runTool(["--endpoint", fleet.server("replica-0").endpoint, "--ttl-hours", String(TTL_HOURS), "--state-dir", stateDir, "--dry-run"]);
        expect(run.code, run.stderr).toBe(CLEANUP_EXIT.ran);
        expect(summary(run)).toMatchObject({ dry_run: true, listed: 8, fresh: 1, expired: 7, deleted: 0, would_delete: 4, in_use: 3, stale_locks_removed: 0, errors: 0 });
        const a = actions(run);
        expect(a[ids.collideStale]).toBe("would_delete");
        const staleIds = run.lines.filter((l) => l.action === "would_remove_stale_lock").map((l) => l.session_id);
        expect(staleIds.sort()).toEqual([ids.collideStale, ids.killedOld].sort());
        for (const [n, id] of Object.entries(ids)) {
            expect(existsSync(path.join(stateDir, id)), n).toBe(true);
            expect(lockFiles(id), n).toEqual(before[n]);
        }
    });

    it("deletes old sessions and stale-locked ones; keeps fresh and in-use ones", async () => {
        const A = fleet.server("replica-0");
        const run = runTool(["--endpoint", A.endpoint, "--ttl-hours", String(TTL_HOURS), "--state-dir", stateDir]);
        expect(run.code, run.stderr + JSON.stringify(run.lines)).toBe(CLEANUP_EXIT.ran);
        const s = summary(run);
        expect(s).toMatchObject({ ok: true, dry_run: false, listed: 8, fresh: 1, expired: 7, deleted: 4, in_use: 3, stale_locks_removed: 2, errors: 0 });
        expect(typeof s.duration_ms).toBe("number");
        expect(actions(run)).toEqual({
            [ids.old1]: "deleted",
            [ids.old2]: "deleted",
            [ids.collideStale]: "deleted",
            [ids.killedOld]: "deleted",
            [ids.inUse]: "kept_in_use",
            [ids.collideFresh]: "kept_in_use",
            [ids.killedFresh]: "kept_in_use",
        });
        expect(run.lines.filter((l) => l.action === "removed_stale_lock").map((l) => l.session_id).sort()).toEqual([ids.collideStale, ids.killedOld].sort());
        const reasons = Object.fromEntries(run.lines.filter((l) => l.action === "kept_in_use").map((l) => [l.session_id, l.reason]));
        expect(reasons[ids.inUse]).toBe("in-use lock held by a live process");
        expect(reasons[ids.collideFresh]).toMatch(/younger than the ttl/);

        const remaining = [...(await listedIds(A.endpoint)).keys()].sort();
        expect(remaining).toEqual([ids.fresh, ids.inUse, ids.collideFresh, ids.killedFresh].sort());
        for (const name of ["old1", "old2", "collideStale", "killedOld"]) expect(existsSync(path.join(stateDir, ids[name])), name).toBe(false);
    }, 60_000);

    it("the kept in-use session still works on its replica", async () => {
        const s = await pool.client(fleet.server("replica-0").endpoint).resumeSession(ids.inUse, sessionConfig(fleet.outputs));
        expect(await turn(s, "still here")).toBeTruthy();
    });

    it("why the tool checks locks itself: the replica holding the session open deletes it when asked", async () => {
        const A = fleet.server("replica-0");
        expect(lockFiles(ids.inUse)).toEqual([`inuse.${A.pid}.hold`, `inuse.${A.pid}.lock`]);
        const c = pool.client(A.endpoint);
        await c.start();
        await c.deleteSession(ids.inUse);
        expect(existsSync(path.join(stateDir, ids.inUse))).toBe(false);
    });

    it("keeps a session whose lock names the serving replica's PID while a live process holds its flock", async () => {
        const A = fleet.server("replica-0");
        const s = await newSession(A.endpoint, "turn for held");
        await s.disconnect();
        fakeLock(s.sessionId, A.pid);
        // --no-fork: flock execs sleep itself, so killing this one PID releases the lock and leaves no child behind.
        const holder = spawn("flock", ["--no-fork", "-x", path.join(stateDir, s.sessionId, `inuse.${A.pid}.hold`), "sleep", "120"], { stdio: "ignore" });
        holders.push(holder);
        await waitFor(() => readFileSync("/proc/locks", "utf8").includes(` ${holder.pid} `), 5000);
        age(s.sessionId, OLD_MS);
        const run = runTool(["--endpoint", A.endpoint, "--ttl-hours", String(TTL_HOURS), "--state-dir", stateDir]);
        expect(actions(run)[s.sessionId]).toBe("kept_in_use");
        expect(existsSync(path.join(stateDir, s.sessionId))).toBe(true);
        // Why the tool checks itself: the serving replica deletes straight through a lock naming its own
        // PID even while another process holds the flock (CLI 1.0.102).
        const c = pool.client(A.endpoint);
        await c.start();
        await c.deleteSession(s.sessionId);
        expect(existsSync(path.join(stateDir, s.sessionId))).toBe(false);
        holder.kill("SIGKILL");
    }, 60_000);

    it("a second run finds nothing more to delete", () => {
        const run = runTool(["--endpoint", fleet.server("replica-0").endpoint, "--ttl-hours", String(TTL_HOURS), "--state-dir", stateDir]);
        expect(run.code).toBe(CLEANUP_EXIT.ran);
        expect(summary(run)).toMatchObject({ deleted: 0, errors: 0 });
    });

    it("a wrong token exits 4 with the server's reason; an unreachable endpoint exits 3", () => {
        const bad = runTool(["--endpoint", fleet.server("replica-0").endpoint, "--ttl-hours", "1"], "wrong-token");
        expect(bad.code).toBe(CLEANUP_EXIT.auth);
        expect(bad.lines[0]).toMatchObject({ event: "cleanup.error", stage: "authenticate", error: "connect refused: AUTHENTICATION_FAILED" });
        expect(summary(bad)).toMatchObject({ ok: false, exit_code: CLEANUP_EXIT.auth, listed: 0 });
        const down = runTool(["--endpoint", fleet.server("replica-1").endpoint, "--ttl-hours", "1", "--timeout-ms", "2000"]);
        expect(down.code).toBe(CLEANUP_EXIT.connect);
        expect(down.lines[0]).toMatchObject({ event: "cleanup.error", stage: "connect" });
        expect(down.lines[0].error).toMatch(/Connection refused/);
    });

    it("refuses bad arguments with exit 2 and a clear message", () => {
        const r = runTool(["--endpoint", "no-port", "--ttl-hours", "24"]);
        expect(r.code).toBe(CLEANUP_EXIT.usage);
        expect(r.stderr).toMatch(/--endpoint: "no-port" is not accepted; use host:port/);
        const t = runTool(["--endpoint", "127.0.0.1:1", "--ttl-hours", "0"]);
        expect(t.code).toBe(CLEANUP_EXIT.usage);
        expect(t.stderr).toMatch(/--ttl-hours: "0" is not accepted/);
    });

    it("loop mode runs at once, sleeps, and stops cleanly on SIGTERM", async () => {
        const child = spawn(tool, ["--endpoint", fleet.server("replica-0").endpoint, "--ttl-hours", String(TTL_HOURS), "--state-dir", stateDir, "--interval", "3600"], {
            env: { PATH: process.env.PATH, [ENV.connectionToken]: token },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
        const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
        try {
            await waitFor(() => out.includes('"event":"cleanup.summary"'), 15_000);
            const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]);
            expect(rssKb).toBeGreaterThan(0);
            expect(rssKb).toBeLessThan(16 * 1024);
            const t0 = Date.now();
            child.kill("SIGTERM");
            const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000))]);
            expect(code).toBe(0);
            expect(Date.now() - t0).toBeLessThan(2000);
            const events = out.trim().split("\n").map((l) => (JSON.parse(l) as { event: string }).event);
            expect(events[0]).toBe("cleanup.start");
            expect(events.at(-1)).toBe("cleanup.stop");
            console.log(`loop-mode RSS while sleeping: ${rssKb} kB`);
        } finally {
            child.kill("SIGKILL");
        }
    }, 30_000);
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}
