/**
 * The smoke suite: proves a deployed fleet works, on the real SDK. Each check prints one line
 * `PASS|FAIL|SKIP <name> (<ms> ms)[: reason]`. Every session the suite creates is deleted at the end,
 * also when a check fails.
 */
import { randomBytes } from "node:crypto";
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import type { CopilotSession, ResumeSessionConfig, SessionConfig } from "@github/copilot-sdk";
import { RedisSessionLock, createTenantSession, ownedSessionId, tenantSessionConfig, tenantWorkspace, type TenantSessionConfig } from "@copilot-fleet/client";
import type { FleetOutputs, ProviderOutput } from "../components/contract/outputs";
import { findForks, userPrompts, type ChainEvent } from "./events";
import { probe, type ProbeResult } from "./rpc";
import { describeLeaks, RedTeamUnsupportedModel, runRedTeam, type RedTeamMode } from "./redteam";
import { resolveTargets, type PodApi, type Target } from "./targets";

export type CheckStatus = "PASS" | "FAIL" | "SKIP";

export interface CheckResult {
    readonly name: string;
    readonly status: CheckStatus;
    readonly ms: number;
    readonly reason?: string;
}

export interface SmokeReport {
    readonly ok: boolean;
    readonly platform: string;
    readonly mode: string;
    readonly results: readonly CheckResult[];
    readonly wallMs: number;
    readonly sessionsCreated: readonly string[];
    readonly sessionsDeleted: readonly string[];
}

export interface SmokeOptions {
    /** BYOK provider to pass on every create/resume; default `outputs.provider`. None → the servers' GitHub token. */
    readonly provider?: ProviderOutput;
    /** Per model turn. Default 60 000 ms. */
    readonly turnTimeoutMs?: number;
    /** Per check. Default 180 000 ms. */
    readonly checkTimeoutMs?: number;
    /** Number of concurrent writers in the lock check. Default 2. */
    readonly lockWriters?: number;
    /**
     * Outputs with `credentials: "perSession"`: the user's GitHub token passed as `gitHubToken` on every
     * create and resume (the servers hold none). Absent → the checks that need a model turn SKIP.
     */
    readonly gitHubToken?: string;
    /** Called as each check finishes (the CLI prints it). */
    readonly onResult?: (r: CheckResult) => void;
    /**
     * The model the red-team check drives: it must follow `[[tool:...]]` directives (the stub in
     * smoke/local/stub-model.ts) and be reachable from the servers. Default: `provider`. With any other
     * model the red-team checks SKIP and say so.
     */
    readonly redTeamProvider?: ProviderOutput;
    /** The server's COPILOT_HOME, when it is not the parent of `sessionStatePath` (the local fleet). */
    readonly copilotHome?: string;
    /** Kubernetes only: replace the API client (tests). */
    readonly podApi?: () => Promise<PodApi>;
    /**
     * How long the "fleet ready" gate waits for every server (and the balancer) to answer an
     * authenticated ping before the checks run. Default 120 000 ms: Docker's `pulumi up` returns when
     * the containers are created, not when the CLI in them listens, nor when the balancer has seen
     * them healthy. 0: no gate.
     */
    readonly readyTimeoutMs?: number;
}

export function formatResult(r: CheckResult): string {
    return `${r.status} ${r.name} (${r.ms} ms)${r.reason ? `: ${r.reason}` : ""}`;
}

class Skip extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
        p.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
        }),
    ]);
}

/** The server answered and refused the token: it is listening. */
const refusedToken = (r: ProbeResult): boolean => /AUTHENTICATION_FAILED/.test(r.error ?? "");

/** Pings until the server answers (accepts, or refuses the token) or `timeoutMs` passes. */
async function waitForAnswer(endpoint: string, token: string, timeoutMs: number): Promise<ProbeResult> {
    const deadline = Date.now() + timeoutMs;
    let last: ProbeResult = { ok: false, error: "not tried", ms: 0 };
    while (Date.now() < deadline) {
        last = await probe(endpoint, token, { timeoutMs: Math.min(2000, Math.max(200, deadline - Date.now())) });
        if (last.ok || refusedToken(last)) return last;
        await new Promise((r) => setTimeout(r, 250));
    }
    return last;
}

function errText(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

export async function runSmokeSuite(outputs: FleetOutputs, opts: SmokeOptions = {}): Promise<SmokeReport> {
    const started = Date.now();
    const results: CheckResult[] = [];
    const created: string[] = [];
    const deleted: string[] = [];
    const clients: CopilotClient[] = [];
    const openSessions = new Set<CopilotSession>();
    const perSession = outputs.credentials === "perSession";
    // The CLI refuses a session that carries both a GitHub token and a provider.
    const provider = perSession ? undefined : (opts.provider ?? outputs.provider);
    const turnTimeoutMs = opts.turnTimeoutMs ?? 60_000;
    const checkTimeoutMs = opts.checkTimeoutMs ?? 180_000;
    const runId = randomBytes(4).toString("hex");

    const record = (r: CheckResult): void => {
        results.push(r);
        opts.onResult?.(r);
    };
    const check = async (name: string, fn: () => Promise<string | void>): Promise<boolean> => {
        const t0 = Date.now();
        try {
            const note = await withTimeout(fn(), checkTimeoutMs, name);
            record({ name, status: "PASS", ms: Date.now() - t0, ...(note ? { reason: note } : {}) });
            return true;
        } catch (e) {
            if (e instanceof Skip) {
                record({ name, status: "SKIP", ms: Date.now() - t0, reason: e.message });
                return true;
            }
            record({ name, status: "FAIL", ms: Date.now() - t0, reason: errText(e) });
            return false;
        }
    };

    const credentials = (): Pick<SessionConfig, "provider" | "model" | "gitHubToken"> =>
        // perSession: like BYOK keys, the token is not kept by the server: on create AND every resume (docs/client.md).
        perSession
            ? { gitHubToken: opts.gitHubToken }
            : // BYOK: provider keys are never persisted, so they go on create AND every resume.
              provider
            ? {
                  provider: {
                      type: provider.type as "openai" | "azure" | "anthropic",
                      baseUrl: provider.baseUrl,
                      ...(provider.apiKey ? { apiKey: provider.apiKey } : {}),
                  },
                  model: provider.model,
              }
            : {};
    // Sessions are made the way docs/client.md tells a backend to: owned ids and tenantSessionConfig, whose
    // workspace is the session's own folder under the fleet's session state.
    const ssp = outputs.sessionStatePath;
    const sessionConfig = (id: string): SessionConfig & ResumeSessionConfig =>
        ssp ? { ...tenantSessionConfig({ workspace: tenantWorkspace(ssp, id) }), ...credentials() } : { onPermissionRequest: approveAll, ...credentials() };
    const client = (endpoint: string, token: string): CopilotClient => {
        const c = new CopilotClient({ connection: RuntimeConnection.forUri(endpoint, { connectionToken: token }) });
        clients.push(c);
        return c;
    };
    const create = async (c: CopilotClient): Promise<CopilotSession> => {
        // Every session the suite creates runs a model turn, which a perSession fleet cannot do without a user's token.
        if (perSession && !opts.gitHubToken) throw new Skip('outputs say credentials "perSession" and no GitHub token was given (set SMOKE_GITHUB_TOKEN to a user\'s token)');
        const sessionId = ownedSessionId(`smoke-${runId}`);
        const config = sessionConfig(sessionId);
        created.push(sessionId);
        const s = ssp
            ? await createTenantSession(c, { sessionId, ...(config as TenantSessionConfig) })
            : await c.createSession({ sessionId, ...config });
        openSessions.add(s);
        return s;
    };
    const resume = async (c: CopilotClient, id: string): Promise<CopilotSession> => {
        const s = await c.resumeSession(id, sessionConfig(id));
        openSessions.add(s);
        return s;
    };
    const close = async (s: CopilotSession): Promise<void> => {
        openSessions.delete(s);
        await s.disconnect();
    };
    const turn = async (s: CopilotSession, prompt: string): Promise<string> => {
        const r = await s.sendAndWait({ prompt }, turnTimeoutMs);
        const text = r?.data.content ?? "";
        if (!text) throw new Error(`no assistant reply to "${prompt}"`);
        return text;
    };
    const events = async (s: CopilotSession): Promise<ChainEvent[]> => (await s.getEvents()) as unknown as ChainEvent[];

    let targetsClose: (() => Promise<void>) | undefined;
    let replicas: readonly Target[] = [];
    try {
        let users: ReadonlyMap<string, Target> = new Map();
        const resolved = await check("resolve endpoints", async () => {
            const t = await resolveTargets(outputs, { podApi: opts.podApi });
            targetsClose = t.close;
            replicas = t.replicas;
            users = t.users;
            if (outputs.mode === "shared" && replicas.length === 0) throw new Error("outputs list no replicas (and none were found)");
            if (outputs.mode === "per-user" && users.size === 0) throw new Error("per-user outputs list no users");
            return outputs.mode === "shared" ? `${replicas.length} replicas` : `${users.size} users`;
        });

        const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
        if (resolved && readyTimeoutMs > 0) {
            // One gate, then no retries: every check after it sees the fleet as a client would.
            const waitFor: Array<{ name: string; endpoint: string; token: string }> = [];
            if (outputs.mode === "shared" && outputs.connectionToken) {
                for (const t of [...replicas, ...(outputs.endpoint ? [{ name: "load-balancer", endpoint: outputs.endpoint }] : [])]) waitFor.push({ ...t, token: outputs.connectionToken });
            }
            for (const [id, t] of users.entries()) {
                const u = outputs.users?.[id];
                if (u && u.suspended !== true && u.connectionToken) waitFor.push({ name: `user ${id}`, endpoint: t.endpoint, token: u.connectionToken });
            }
            if (waitFor.length > 0) {
                await check("fleet ready", async () => {
                    const t0 = Date.now();
                    // Waiting is for a server that does not answer yet; one that answers and refuses the
                    // token is up (the checks below then fail on it), so the wait ends there too.
                    const results = await Promise.all(waitFor.map(async (w) => ({ w, r: await waitForAnswer(w.endpoint, w.token, readyTimeoutMs) })));
                    const down = results.filter((x) => !x.r.ok && !refusedToken(x.r));
                    if (down.length > 0) {
                        // With idle suspend a user's server that went idle is stopped on purpose: say so, and how to wake it.
                        const idle =
                            outputs.idleSuspend?.minutes !== undefined && down.some((x) => x.w.name.startsWith("user "))
                                ? ` (this fleet stops servers idle for ${outputs.idleSuspend.minutes} minutes: run the smoke suite within that window of a deploy, or wake the users first with ensureRunning from @copilot-fleet/client, docs/operations.md "Idle suspend and wake")`
                                : "";
                        throw new Error(`not answering after ${readyTimeoutMs} ms: ${down.map((x) => `${x.w.name} (${x.w.endpoint}): ${x.r.error ?? x.r.message}`).join("; ")}${idle}`);
                    }
                    return `${waitFor.length} answered within ${Date.now() - t0} ms`;
                });
            }
        }

        if (resolved && outputs.mode === "shared") {
            const token = outputs.connectionToken;
            if (!token) {
                await check("connection token present", async () => {
                    throw new Error("shared outputs have no connectionToken");
                });
            } else {
                const servers: Target[] = [...replicas, ...(outputs.endpoint ? [{ name: "load-balancer", endpoint: outputs.endpoint }] : [])];
                for (const t of servers) {
                    await check(`ping ${t.name}`, async () => {
                        const r = await probe(t.endpoint, token, { timeoutMs: 10_000 });
                        if (!r.ok) throw new Error(`${t.endpoint}: ${r.error ?? r.message}`);
                        return `${r.message} (protocol ${r.protocolVersion})`;
                    });
                }
                for (const t of servers) {
                    await check(`auth refuses wrong and missing token ${t.name}`, async () => {
                        const wrong = await probe(t.endpoint, `${token}-wrong`, { timeoutMs: 10_000 });
                        if (wrong.ok || !/AUTHENTICATION_FAILED/.test(wrong.error ?? "")) {
                            throw new Error(`wrong token: expected AUTHENTICATION_FAILED, got ${wrong.ok ? "accepted" : wrong.error}`);
                        }
                        const missing = await probe(t.endpoint, undefined, { timeoutMs: 10_000 });
                        if (missing.ok || !/AUTHENTICATION_FAILED/.test(missing.error ?? "")) {
                            throw new Error(`missing token: expected AUTHENTICATION_FAILED, got ${missing.ok ? "accepted" : missing.error}`);
                        }
                    });
                }

                await check("cross-replica resume", async () => {
                    if (replicas.length < 2) throw new Skip("needs at least 2 replicas");
                    const [a, b] = replicas;
                    const first = `smoke ${runId} turn one`;
                    const second = `smoke ${runId} turn two`;
                    const sa = await create(client(a.endpoint, token));
                    // A session that never ran a turn is not persisted; one real turn makes it resumable.
                    await turn(sa, first);
                    await close(sa);
                    const sb = await resume(client(b.endpoint, token), sa.sessionId);
                    const before = userPrompts(await events(sb));
                    if (!before.some((p) => p.includes(first))) {
                        throw new Error(`${b.name} resumed ${sa.sessionId} without the first turn (user messages: ${JSON.stringify(before)})`);
                    }
                    await turn(sb, second);
                    const after = userPrompts(await events(sb));
                    const i1 = after.findIndex((p) => p.includes(first));
                    const i2 = after.findIndex((p) => p.includes(second));
                    if (i1 < 0 || i2 < 0 || i2 < i1) throw new Error(`turns out of order on ${b.name}: ${JSON.stringify(after)}`);
                    await close(sb);
                    return `${a.name} → ${b.name}`;
                });

                await check("session lock serialises writers", async () => {
                    if (!outputs.redisUrl) throw new Skip("no redisUrl in outputs");
                    const writers = opts.lockWriters ?? 2;
                    const lock = new RedisSessionLock({ redis: outputs.redisUrl });
                    try {
                        const base = `smoke ${runId} lock base`;
                        const s0 = await create(client(replicas[0].endpoint, token));
                        await turn(s0, base);
                        await close(s0);
                        const id = s0.sessionId;
                        const order: number[] = [];
                        await Promise.all(
                            Array.from({ length: writers }, (_, i) =>
                                lock.withLock(
                                    id,
                                    async () => {
                                        order.push(i);
                                        const r = replicas[i % replicas.length];
                                        const s = await resume(client(r.endpoint, token), id);
                                        try {
                                            await turn(s, `smoke ${runId} writer ${i}`);
                                        } finally {
                                            await close(s);
                                        }
                                    },
                                    { waitMs: turnTimeoutMs * writers },
                                ),
                            ),
                        );
                        const sv = await resume(client(replicas[0].endpoint, token), id);
                        const ev = await events(sv);
                        await close(sv);
                        const forks = findForks(ev);
                        if (forks.length > 0) throw new Error(`events forked: ${JSON.stringify(forks)}`);
                        const prompts = userPrompts(ev);
                        const expected = [base, ...order.map((i) => `smoke ${runId} writer ${i}`)];
                        const got = expected.map((p) => prompts.findIndex((q) => q.includes(p)));
                        if (got.some((x) => x < 0) || got.some((x, k) => k > 0 && x <= got[k - 1])) {
                            throw new Error(`turns missing or out of lock order: expected ${JSON.stringify(expected)}, log has ${JSON.stringify(prompts)}`);
                        }
                        return `${writers} writers, lock order ${order.join(",")}, single chain`;
                    } finally {
                        await lock.close();
                    }
                });
            }
        }

        if (resolved && outputs.mode === "shared" && outputs.connectionToken) {
            const token = outputs.connectionToken;
            const rtProvider = opts.redTeamProvider ?? provider;
            const redTeam = async (mode: RedTeamMode) => {
                if (!outputs.sessionStatePath) throw new Skip("outputs have no sessionStatePath");
                // The model must be the tool-calling stub: a BYOK provider, or (perSession) whatever the
                // user's token resolves to, which on the local fleet is the stub as well.
                const creds = rtProvider
                    ? {
                          provider: { type: rtProvider.type as "openai", baseUrl: rtProvider.baseUrl, ...(rtProvider.apiKey ? { apiKey: rtProvider.apiKey } : {}) },
                          model: rtProvider.model,
                      }
                    : perSession && opts.gitHubToken
                      ? { gitHubToken: opts.gitHubToken }
                      : undefined;
                if (!creds) throw new Skip("needs a BYOK provider that is the tool-calling stub model (--redteam-provider-base-url), or SMOKE_GITHUB_TOKEN on a perSession fleet");
                if (replicas.length === 0) throw new Skip("no replica endpoint");
                const secrets = new Map<string, string>([["connection token", token]]);
                if (rtProvider?.apiKey) secrets.set("provider api key", rtProvider.apiKey);
                if (opts.gitHubToken) secrets.set("user GitHub token", opts.gitHubToken);
                if (provider?.apiKey) secrets.set("fleet provider api key", provider.apiKey);
                try {
                    // Victim and attacker on one server: the worst case, one process and one environment.
                    return await runRedTeam({
                        mode,
                        targets: { sessionStatePath: outputs.sessionStatePath, ...(opts.copilotHome ? { copilotHome: opts.copilotHome } : {}) },
                        victimClient: client(replicas[0].endpoint, token),
                        attackerClient: client(replicas[0].endpoint, token),
                        credentials: creds,
                        secrets,
                        turnTimeoutMs,
                        onCreated: (id) => created.push(id),
                    });
                } catch (e) {
                    if (e instanceof RedTeamUnsupportedModel) throw new Skip(e.message);
                    throw e;
                }
            };
            await check("red-team: tenantSessionConfig keeps tenants apart", async () => {
                const r = await redTeam("tenant");
                if (r.leaks.length > 0) throw new Error(`${r.leaks.length} of ${r.outcomes.length} attempts leaked: ${describeLeaks(r)}`);
                const ran = r.outcomes.filter((x) => x.ran).length;
                if (ran !== r.outcomes.length) throw new Error(`only ${ran} of ${r.outcomes.length} attempts reached a tool: the check did not test what it claims`);
                return `0 of ${r.outcomes.length} attempts leaked (bash, view, grep, glob, create, edit, sql, task against another session and the server)`;
            });
            await check("red-team: plain approveAll (documents the hazard)", async () => {
                const r = await redTeam("approveAll");
                if (r.leaks.length === 0) return `approveAll leaked none of ${r.outcomes.length}: the servers confine tools themselves`;
                // Servers that run the tool guard must hold even against approveAll; without the guard
                // this documents what a backend without tenantSessionConfig exposes.
                if (outputs.toolGuard) throw new Error(`the servers run the tool guard, yet approveAll leaked ${r.leaks.length} of ${r.outcomes.length}: ${describeLeaks(r)}`);
                return `approveAll leaks ${r.leaks.length} of ${r.outcomes.length} (no server-side tool guard): ${describeLeaks(r)}`;
            });
        }

        if (resolved && outputs.mode === "per-user") {
            const entries = [...users.entries()].filter(([id]) => outputs.users?.[id]?.suspended !== true);
            // A user suspended in config has no server to serve them: that is what is checked for them.
            for (const [id, t] of users.entries()) {
                if (outputs.users?.[id]?.suspended !== true) continue;
                await check(`user ${id} is suspended: no server answers`, async () => {
                    if (t.endpoint === "") return "no endpoint";
                    const r = await probe(t.endpoint, outputs.users?.[id]?.connectionToken, { timeoutMs: 5_000 });
                    if (r.ok) throw new Error(`${t.endpoint} answers ping, but the user is suspended`);
                    return `${t.endpoint}: ${r.error ?? "no answer"}`;
                });
            }
            for (const [id, t] of entries) {
                const own = outputs.users?.[id]?.connectionToken;
                await check(`ping user ${id}`, async () => {
                    if (!own) throw new Error(`user ${id} has no connectionToken in outputs`);
                    const r = await probe(t.endpoint, own, { timeoutMs: 10_000 });
                    if (!r.ok) throw new Error(`${t.endpoint}: ${r.error ?? r.message}`);
                    return r.message;
                });
                await check(`user ${id} refuses other tokens`, async () => {
                    const others = entries.filter(([o]) => o !== id).map(([o]) => outputs.users?.[o]?.connectionToken).filter((x): x is string => !!x);
                    if (others.length === 0) others.push(`${own ?? ""}-wrong`);
                    for (const tok of others) {
                        if (tok === own) throw new Error(`user ${id} shares its connection token with another user`);
                        const r = await probe(t.endpoint, tok, { timeoutMs: 10_000 });
                        if (r.ok || !/AUTHENTICATION_FAILED/.test(r.error ?? "")) {
                            throw new Error(`expected AUTHENTICATION_FAILED for a foreign token, got ${r.ok ? "accepted" : r.error}`);
                        }
                    }
                    return `${others.length} foreign token(s) refused`;
                });
            }
        }
    } finally {
        // Cleanup runs whatever happened above.
        await check("cleanup deletes created sessions", async () => {
            for (const s of openSessions) await s.disconnect().catch(() => undefined);
            openSessions.clear();
            await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
            if (created.length === 0) return "nothing to delete";
            const token = outputs.connectionToken;
            const candidates = [
                ...replicas.map((r) => r.endpoint),
                ...(outputs.endpoint ? [outputs.endpoint] : []),
            ];
            if (!token) throw new Error("no connection token to delete sessions with");
            const failures: string[] = [];
            for (const id of created) {
                let done = false;
                let lastErr = "";
                for (const ep of candidates) {
                    const c = new CopilotClient({ connection: RuntimeConnection.forUri(ep, { connectionToken: token }) });
                    try {
                        // deleteSession does not connect on its own (createSession/resumeSession do).
                        await withTimeout(c.start(), 10_000, `connect ${ep}`);
                        await withTimeout(c.deleteSession(id), 20_000, `delete ${id}`);
                        done = true;
                    } catch (e) {
                        lastErr = `${ep}: ${errText(e)}`;
                    } finally {
                        await c.stop().catch(() => undefined);
                    }
                    if (done) break;
                }
                if (done) deleted.push(id);
                else failures.push(`${id} (${lastErr})`);
            }
            if (failures.length) throw new Error(`could not delete ${failures.join(", ")}`);
            return `${deleted.length} deleted`;
        });
        await targetsClose?.().catch(() => undefined);
    }
    return {
        ok: results.every((r) => r.status !== "FAIL"),
        platform: outputs.platform,
        mode: outputs.mode,
        results,
        wallMs: Date.now() - started,
        sessionsCreated: created,
        sessionsDeleted: deleted,
    };
}
