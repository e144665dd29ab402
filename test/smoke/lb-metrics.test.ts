/**
 * The balancer's Prometheus endpoint (components/contract/haproxy.ts `metricsBind`, the same config Docker and
 * the local fleet run): the CLI exposes no metrics, so this is where a scraper sees which replicas
 * pass the JSON-RPC health check and how many client connections each holds. Real HAProxy and real
 * CLIs on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";
import { ClientPool } from "../helpers/fleet";

let fleet: LocalFleet;

beforeAll(async () => {
    fleet = await startLocalFleet({ replicas: 2, redis: false, checkIntervalMs: 200 });
}, 120_000);

afterAll(async () => {
    await fleet?.stop();
});

/**
 * `haproxy_server_<metric>{proxy="replicas",server="<name>",…} <value>` per server from one scrape;
 * `where` picks one series when the metric has more labels (HAProxy 2.6+ reports status per `state`).
 */
async function serverMetric(metric: string, where: Readonly<Record<string, string>> = {}): Promise<Map<string, number>> {
    const res = await fetch(fleet.haproxy?.metricsUrl as string);
    expect(res.status).toBe(200);
    const out = new Map<string, number>();
    const re = new RegExp(`^haproxy_server_${metric}\\{([^}]*)\\} (\\S+)$`);
    for (const line of (await res.text()).split("\n")) {
        const m = re.exec(line);
        if (!m) continue;
        const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (labels.proxy !== "replicas" || !Object.entries(where).every(([k, v]) => labels[k] === v)) continue;
        out.set(labels.server, Number(m[2]));
    }
    return out;
}
const upness = (): Promise<Map<string, number>> => serverMetric("status", { state: "UP" });

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    let v = await get();
    while (!ok(v)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? Object.fromEntries(x) : x))}`);
        await new Promise((r) => setTimeout(r, 100));
        v = await get();
    }
    return v;
}

describe("load balancer metrics", () => {
    it("shows each replica's health, its open client connections, and a replica going down", async () => {
        const up = await until("both replicas UP", upness, (m) => m.get("replica-0") === 1 && m.get("replica-1") === 1);
        expect([...up.keys()].sort()).toEqual(["replica-0", "replica-1"]);

        // Two SDK clients through the balancer: leastconn puts one on each replica.
        const pool = new ClientPool(fleet.outputs.connectionToken as string);
        try {
            for (let i = 0; i < 2; i++) await pool.client(fleet.outputs.endpoint as string).start();
            const open = await until("two open connections", () => serverMetric("current_sessions"), (m) => [...m.values()].reduce((a, b) => a + b, 0) === 2);
            expect(open.get("replica-0")).toBe(1);
            expect(open.get("replica-1")).toBe(1);
        } finally {
            await pool.stopAll();
        }

        await fleet.killReplica("replica-1", "SIGKILL");
        const after = await until("replica-1 DOWN", upness, (m) => m.get("replica-1") === 0);
        expect(after.get("replica-0")).toBe(1);
        const failures = await serverMetric("check_failures_total");
        expect(failures.get("replica-1")).toBeGreaterThan(0);
    }, 60_000);
});
