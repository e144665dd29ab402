/**
 * Idle suspend benchmark, on real processes (per-user local fleet: real Copilot CLI servers behind the
 * tool-guard wrapper, stub model). Prints:
 *
 * 1. one automatic cycle: a user's last turn → the in-process suspender stops the server (window 3 s);
 * 2. suspend → wake → first turn, median of N cycles: the stop the suspender issues, `ensureRunning`
 *    until the server answers an authenticated ping, then `resumeSession` + one turn, whose reply
 *    must show the session's earlier history;
 * 3. requested memory for 1,000 users with 10% active, from the resources the fleet renders
 *    (server container + session-cleanup sidecar per user pod, one suspender);
 * 4. the suspender's own footprint: `suspender-main.js` (what the container runs) as a child process
 *    with 1,000 users in its list, against a fake Docker engine socket that reports every container
 *    running and real servers answering for them: RSS and the time of one round.
 *
 *   npm run bench:suspend               # 5 cycles
 *   npm run bench:suspend -- --cycles 9
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { CopilotClient, RuntimeConnection } from "@github/copilot-sdk";
import { ensureRunning } from "@copilot-fleet/client";
import { CLEANUP_RESOURCES } from "../components/contract/cleanup";
import { quantityBytes } from "../components/contract/quantities";
import { DEFAULT_RESOURCES } from "../components/contract/server";
import { SUSPENDER_RESOURCES } from "../components/contract/suspend";
import { memoryGb } from "../components/aci/render";
import { startLocalFleet } from "../smoke/local-fleet";
import { sessionConfig } from "../test/helpers/fleet";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GiB = 2 ** 30;

function memoryArithmetic(): void {
    const perPod = quantityBytes(DEFAULT_RESOURCES.memoryRequest) + quantityBytes(CLEANUP_RESOURCES.memoryRequest);
    const always = 1000 * perPod;
    const suspended = 100 * perPod + quantityBytes(SUSPENDER_RESOURCES.memoryRequest);
    console.log("\n3. requested memory, 1,000 users, 10% active (Kubernetes requests as rendered)");
    console.log(`   per user pod: server ${DEFAULT_RESOURCES.memoryRequest} + cleanup sidecar ${CLEANUP_RESOURCES.memoryRequest}`);
    console.log(`   always on:     1,000 pods             = ${(always / GiB).toFixed(1)} GiB (servers alone: ${((1000 * quantityBytes(DEFAULT_RESOURCES.memoryRequest)) / GiB).toFixed(1)} GiB)`);
    console.log(`   idle suspend:  100 pods + suspender ${SUSPENDER_RESOURCES.memoryRequest} = ${(suspended / GiB).toFixed(1)} GiB`);
    console.log(`   reduction: ${((1 - suspended / always) * 100).toFixed(1)}% (goal ≥ 85%)`);
    // ACI reserves (and bills) a group's requests, and the server's request is its limit (components/aci/render.ts);
    // a stopped group reserves nothing.
    const group = memoryGb(DEFAULT_RESOURCES.memoryLimit) + memoryGb(CLEANUP_RESOURCES.memoryRequest);
    const aciAlways = 1000 * group;
    const aciSuspended = 100 * group + memoryGb(SUSPENDER_RESOURCES.memoryLimit);
    console.log("   ACI (memoryInGB as rendered: server = its limit, cleanup sidecar its request, suspender group its limit)");
    console.log(`   per user group: ${memoryGb(DEFAULT_RESOURCES.memoryLimit)} + ${memoryGb(CLEANUP_RESOURCES.memoryRequest)} GB`);
    console.log(`   always on: ${aciAlways.toFixed(0)} GB; idle suspend: 100 groups + suspender ${memoryGb(SUSPENDER_RESOURCES.memoryLimit)} GB = ${aciSuspended.toFixed(1)} GB; reduction ${((1 - aciSuspended / aciAlways) * 100).toFixed(1)}%`);
}

/** A Docker engine API that knows every container and says it is running (the suspender only reads here: its window is an hour). */
async function fakeDockerEngine(sock: string): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ State: { Running: true }, Config: { Labels: { "copilot-fleet.github.com/suspended": "false" } } }));
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
    return server;
}

function rssOf(pid: number): { rssKb: number; hwmKb: number } {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

async function main(): Promise<void> {
    const i = process.argv.indexOf("--cycles");
    const cycles = i > 0 ? Number(process.argv[i + 1]) : 5;
    const users = ["u0", "u1", "u2"];
    const fleet = await startLocalFleet({ mode: "per-user", users, idleSuspendMs: 3000, suspendIntervalMs: 250 });
    const clients: CopilotClient[] = [];
    const work = mkdtempSync(path.join(os.tmpdir(), "bench-suspend-"));
    let docker: http.Server | undefined;
    try {
        const out = fleet.outputs.users as Record<string, { endpoint: string; connectionToken: string }>;
        const u = "u0";
        const client = () => {
            const c = new CopilotClient({ connection: RuntimeConnection.forUri(out[u].endpoint, { connectionToken: out[u].connectionToken }) });
            clients.push(c);
            return c;
        };
        const cfg = sessionConfig(fleet.outputs);

        // 1. one automatic cycle
        const first = await client().createSession(cfg);
        await first.sendAndWait({ prompt: "turn 0: remember the word heron" }, 30_000);
        await first.disconnect();
        const lastTurn = Date.now();
        while ((await fleet.control.state(u)).running) await sleep(50);
        console.log("Idle suspend benchmark (CLI 1.0.102, stub model, per-user local fleet)");
        console.log(`\n1. automatic: last turn → server stopped by the suspender: ${Date.now() - lastTurn} ms (window 3000 ms, rounds every 250 ms)`);

        // 2. suspend → wake → first turn
        const stops: number[] = [];
        const wakes: number[] = [];
        const turns: number[] = [];
        const totals: number[] = [];
        for (let n = 1; n <= cycles; n++) {
            await ensureRunning(u, { control: fleet.control, endpoint: out[u].endpoint, connectionToken: out[u].connectionToken });
            const t0 = Date.now();
            await fleet.control.stop(u);
            const t1 = Date.now();
            const w = await ensureRunning(u, { control: fleet.control, endpoint: out[u].endpoint, connectionToken: out[u].connectionToken });
            const t2 = Date.now();
            if (!w.started) throw new Error("the wake did not start the server");
            const s = await client().resumeSession(first.sessionId, cfg);
            const r = await s.sendAndWait({ prompt: `turn ${n}: what was the word?` }, 30_000);
            const t3 = Date.now();
            const req = fleet.stub.chatRequests().at(-1);
            if (!r?.data.content || !req?.messages?.some((m) => m.content.includes("remember the word heron"))) throw new Error("the first turn after the wake did not carry the session's history");
            await s.disconnect();
            stops.push(t1 - t0);
            wakes.push(t2 - t1);
            turns.push(t3 - t2);
            totals.push(t3 - t0);
        }
        console.log(`\n2. suspend → wake → first turn, median of ${cycles} (min–max)`);
        const show = (label: string, xs: number[]) => console.log(`   ${label.padEnd(34)} ${median(xs)} ms (${Math.min(...xs)}–${Math.max(...xs)})`);
        show("suspend (SIGTERM → exited)", stops);
        show("wake (start → authenticated ping)", wakes);
        show("first turn (resume + turn)", turns);
        show("total", totals);

        memoryArithmetic();

        // 4. the suspender's footprint: the in-process one stops, every server runs, the child does the asking.
        await fleet.suspender?.stop();
        for (const id of users) await ensureRunning(id, { control: fleet.control, endpoint: out[id].endpoint, connectionToken: out[id].connectionToken });
        const sock = path.join(work, "docker.sock");
        docker = await fakeDockerEngine(sock);
        const list: Record<string, { endpoint: string; connectionToken: string; server: string }> = {};
        for (let k = 0; k < 1000; k++) {
            const target = users[k % users.length];
            list[`user-${k}`] = { endpoint: out[target].endpoint, connectionToken: out[target].connectionToken, server: `copilot-u-user-${k}` };
        }
        const usersFile = path.join(work, "users.json");
        writeFileSync(usersFile, JSON.stringify(list), { mode: 0o600 });
        const child = spawn(process.execPath, [path.resolve(__dirname, "../packages/client/dist/suspender-main.js")], {
            env: { PATH: process.env.PATH, SUSPENDER_PLATFORM: "docker", DOCKER_HOST: `unix://${sock}`, SUSPENDER_IDLE_MINUTES: "60", SUSPENDER_INTERVAL_SECONDS: "1", SUSPENDER_USERS_FILE: usersFile },
            stdio: ["ignore", "pipe", "inherit"],
        });
        const rounds: Array<{ ms: number; busy: number }> = [];
        let buf = "";
        child.stdout.on("data", (d: Buffer) => {
            buf += d.toString();
            for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
                const line = JSON.parse(buf.slice(0, nl)) as { event?: string; ms?: number; busy?: number };
                buf = buf.slice(nl + 1);
                if (line.event === "suspend.summary") rounds.push({ ms: line.ms ?? NaN, busy: line.busy ?? 0 });
                else if (process.env.BENCH_DEBUG) console.error(JSON.stringify(line));
            }
        });
        const deadline = Date.now() + 120_000;
        while (rounds.length < 3 && Date.now() < deadline) await sleep(100);
        const mem = rssOf(child.pid as number);
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
        if (rounds.length < 3) throw new Error(`the suspender finished ${rounds.length} rounds in 120 s`);
        console.log("\n4. the suspender (suspender-main.js, 1,000 users, every container reported running, real servers answering)");
        console.log(`   RSS after 3 rounds: ${(mem.rssKb / 1024).toFixed(1)} MB (peak ${(mem.hwmKb / 1024).toFixed(1)} MB); request ${SUSPENDER_RESOURCES.memoryRequest}, limit ${SUSPENDER_RESOURCES.memoryLimit}`);
        console.log(`   one round over 1,000 users: ${median(rounds.map((r) => r.ms))} ms (median of ${rounds.length}); busy ${rounds.at(-1)?.busy} of 1000 (inside the window, none stopped)`);
    } finally {
        docker?.close();
        await Promise.all(clients.map((c) => c.forceStop().catch(() => undefined)));
        await fleet.stop();
        rmSync(work, { recursive: true, force: true });
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
