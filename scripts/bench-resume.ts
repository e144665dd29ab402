/**
 * npm run bench:resume [-- --sessions 20 --smoke-runs 3]
 *
 * On a local fleet (2 real CLI servers, shared session-state folder): resume latency of a session on
 * the replica that created it vs on another replica (median over N sessions, and the ratio), and the
 * smoke suite's wall time. Clients are connected before timing, so the figure is the resume itself.
 */
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import { runSmokeSuite } from "../smoke/checks";
import { startLocalFleet } from "../smoke/local-fleet";

function arg(name: string, dflt: number): number {
    const i = process.argv.indexOf(name);
    const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
    return v;
}

const median = (xs: readonly number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x: number): string => x.toFixed(1);

async function main(): Promise<void> {
    const sessions = arg("--sessions", 20);
    const smokeRuns = arg("--smoke-runs", 3);
    const fleet = await startLocalFleet({ replicas: 2 });
    const clients: CopilotClient[] = [];
    try {
        const o = fleet.outputs;
        const token = o.connectionToken as string;
        const p = o.provider;
        if (!p) throw new Error("fleet has no provider");
        const cfg = { onPermissionRequest: approveAll, provider: { type: "openai" as const, baseUrl: p.baseUrl }, model: p.model };
        const mk = (endpoint: string): CopilotClient => {
            const c = new CopilotClient({ connection: RuntimeConnection.forUri(endpoint, { connectionToken: token }) });
            clients.push(c);
            return c;
        };
        const [ra, rb] = o.replicas ?? [];
        const a = mk(ra.endpoint);
        const b = mk(rb.endpoint);
        await Promise.all([a.start(), b.start()]);

        const same: number[] = [];
        const other: number[] = [];
        const ids: string[] = [];
        for (let i = 0; i < sessions; i++) {
            const s = await a.createSession(cfg);
            await s.sendAndWait({ prompt: `bench ${i}` }, 30_000);
            await s.disconnect();
            ids.push(s.sessionId);
            // Alternate which resume goes first so cache warmth does not favour one side.
            const order: [CopilotClient, number[]][] = i % 2 === 0 ? [[a, same], [b, other]] : [[b, other], [a, same]];
            for (const [c, bucket] of order) {
                const t0 = process.hrtime.bigint();
                const r = await c.resumeSession(s.sessionId, cfg);
                bucket.push(Number(process.hrtime.bigint() - t0) / 1e6);
                await r.disconnect();
            }
        }
        for (const id of ids) await a.deleteSession(id);
        const mSame = median(same);
        const mOther = median(other);
        console.log(`resume latency over ${sessions} sessions (one turn each, client already connected):`);
        console.log(`  same replica:    median ${fmt(mSame)} ms (min ${fmt(Math.min(...same))}, max ${fmt(Math.max(...same))})`);
        console.log(`  another replica: median ${fmt(mOther)} ms (min ${fmt(Math.min(...other))}, max ${fmt(Math.max(...other))})`);
        console.log(`  ratio other/same: ${(mOther / mSame).toFixed(2)}`);

        const walls: number[] = [];
        for (let i = 0; i < smokeRuns; i++) {
            const report = await runSmokeSuite(o);
            if (!report.ok) throw new Error(`smoke suite failed: ${JSON.stringify(report.results.filter((r) => r.status === "FAIL"))}`);
            walls.push(report.wallMs);
        }
        console.log(`smoke suite wall time on the local fleet (2 replicas, ${smokeRuns} runs): median ${median(walls)} ms (${walls.join(", ")})`);
    } finally {
        await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
        await fleet.stop();
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
