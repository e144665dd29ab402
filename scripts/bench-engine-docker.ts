/**
 * Real `pulumi up` wall time for the Docker dev stack (shared, 2 replicas, as Pulumi.dev.yaml), on
 * podman's Docker-compatible API with the engine scripts/pulumi-engine.sh built: the first `up`
 * (image build through the provider included), a second `up` with nothing to change, and `destroy`.
 *
 *   npm run bench:engine-docker                 # the first up reuses the layer cache from earlier builds
 *   npm run bench:engine-docker -- --cold       # removes the built image's cached layers first
 *   npm run bench:engine-docker -- --json
 *   npm run bench:engine-docker -- --suspend    # per-user with idle suspend: stop → wake → first turn, 5 rounds
 *
 * It takes the Docker engine suites' lock, so it never runs beside test/engine/docker.test.ts.
 */
import * as os from "node:os";
import { parse as parseYaml } from "yaml";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { podman, REPO_ROOT } from "../test/helpers/containers";
import { startDockerEngineFixture } from "../test/helpers/dockerEngine";
import { changeSummary } from "../test/helpers/engine";
import { ClientPool, sessionConfig, turn } from "../test/helpers/fleet";
import type { FleetOutputs } from "../components/contract/outputs";
import { dockerControl, ensureRunning } from "@copilot-fleet/client";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Per-user with idle suspend on Docker: the suspender's stop, a backend's wake, and the first turn after it. */
async function suspendRounds(fx: Awaited<ReturnType<typeof startDockerEngineFixture>>, json: boolean): Promise<void> {
    const stack = fx.stack("cfe-bench-idle", { "copilot-fleet:mode": "per-user", "copilot-fleet:users": '["alice"]', "copilot-fleet:idleSuspendMinutes": "5" });
    await stack.create();
    try {
        await stack.up({ timeoutMs: 30 * 60_000 });
        const outputs = (await stack.outputs(true)) as unknown as FleetOutputs;
        const alice = outputs.users?.alice;
        if (!alice?.connectionToken) throw new Error("no alice in the outputs");
        const control = dockerControl({ containerName: (id) => `copilot-u-${id}`, socketPath: fx.service.dockerHost.slice("unix://".length) });
        await ensureRunning("alice", { control, endpoint: alice.endpoint, connectionToken: alice.connectionToken });
        const rounds: Array<{ stopMs: number; wakeMs: number; firstTurnMs: number }> = [];
        for (let i = 0; i < 5; i++) {
            let t = Date.now();
            await control.stop("alice");
            const stopMs = Date.now() - t;
            t = Date.now();
            const woken = await ensureRunning("alice", { control, endpoint: alice.endpoint, connectionToken: alice.connectionToken });
            const wakeMs = Date.now() - t;
            t = Date.now();
            const pool = new ClientPool(alice.connectionToken);
            try {
                const s = await pool.client(woken.endpoint).createSession(sessionConfig(outputs));
                await turn(s, `round ${i}`, 120_000);
                await s.disconnect();
            } finally {
                await pool.stopAll();
            }
            rounds.push({ stopMs, wakeMs, firstTurnMs: Date.now() - t });
        }
        const result = {
            stack: "per-user, idleSuspendMinutes 5, one user (docker)",
            stopMs: median(rounds.map((r) => r.stopMs)),
            wakeMs: median(rounds.map((r) => r.wakeMs)),
            firstTurnMs: median(rounds.map((r) => r.firstTurnMs)),
            totalMs: median(rounds.map((r) => r.stopMs + r.wakeMs + r.firstTurnMs)),
            loadAverage: Number(os.loadavg()[0].toFixed(1)),
        };
        if (json) console.log(JSON.stringify(result));
        else {
            console.log(`suspend (container stop through the Engine API), median of 5: ${result.stopMs} ms`);
            console.log(`wake (ensureRunning: start, then an authenticated ping), median of 5: ${result.wakeMs} ms`);
            console.log(`first turn after the wake (new session + reply), median of 5: ${result.firstTurnMs} ms`);
            console.log(`suspend → wake → first turn, median of 5: ${result.totalMs} ms; load average ${result.loadAverage} on ${os.cpus().length} cores`);
        }
    } finally {
        await stack.destroy({ check: false });
        stack.remove();
    }
}

async function main(): Promise<void> {
    const cold = process.argv.includes("--cold");
    const json = process.argv.includes("--json");
    const dev = parseYaml(readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, string> };
    const fx = await startDockerEngineFixture();
    try {
        if (process.argv.includes("--suspend")) return await suspendRounds(fx, json);
        if (cold) {
            // Every image this storage holds except the base and the stand-ins: the build's own layers.
            const r = await podman(["images", "--format", "{{.ID}} {{.Repository}}"]);
            for (const line of r.stdout.split("\n").filter(Boolean)) {
                const [id, repo] = line.split(" ");
                if (!/copilot-fleet-test-base|redis|haproxy/.test(repo)) await podman(["rmi", "-f", id], { check: false });
            }
        }
        const stack = fx.stack("cfe-bench-dev", Object.fromEntries(Object.entries(dev.config).map(([k, v]) => [k, String(v)])));
        await stack.create();
        try {
            const first = await stack.up({ timeoutMs: 30 * 60_000 });
            const second = await stack.up({ timeoutMs: 30 * 60_000 });
            const destroy = await stack.destroy({ timeoutMs: 30 * 60_000 });
            const result = {
                stack: "Pulumi.dev.yaml (docker, shared)",
                coldLayerCache: cold,
                firstUpMs: first.ms,
                firstUpCreated: changeSummary(first.stdout).create ?? 0,
                secondUpMs: second.ms,
                secondUpChanges: Object.entries(changeSummary(second.stdout)).filter(([k]) => k !== "same").reduce((n, [, v]) => n + v, 0),
                destroyMs: destroy.ms,
                loadAverage: Number(os.loadavg()[0].toFixed(1)),
            };
            if (json) console.log(JSON.stringify(result));
            else {
                console.log(`pulumi up (first, ${cold ? "cold layer cache" : "warm layer cache"}): ${(result.firstUpMs / 1000).toFixed(1)} s, ${result.firstUpCreated} resources created`);
                console.log(`pulumi up (second, nothing to change): ${(result.secondUpMs / 1000).toFixed(1)} s, ${result.secondUpChanges} changes`);
                console.log(`pulumi destroy: ${(result.destroyMs / 1000).toFixed(1)} s`);
                console.log(`load average (1 min) at the end: ${result.loadAverage} on ${os.cpus().length} cores`);
            }
        } finally {
            await stack.destroy({ check: false });
            stack.remove();
        }
    } finally {
        await fx.stop();
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
