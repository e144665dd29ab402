/**
 * The real CLI exports what README's observability section promises, configured exactly as the
 * platforms configure it (the spec's OTEL_* variables plus the per-instance resource attributes),
 * to an OTLP/HTTP receiver on loopback: traces and gen_ai metrics after a turn, named by instance,
 * and without prompt content unless the stack opts in.
 */
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServerSpec, telemetryInstanceEnv, type TelemetrySettings } from "../../components/contract/server";
import { defaultCliCacheDir, startCliServer, type CliServer } from "../../smoke/local/cli-server";
import { startStubModel, type StubModel } from "../../smoke/local/stub-model";
import { ClientPool, turn } from "../helpers/fleet";
import { approveAll } from "@github/copilot-sdk";

interface Export {
    readonly path: string;
    readonly body: string;
}

let receiver: http.Server;
let receiverUrl: string;
const exports: Export[] = [];
let stub: StubModel;
let dir: string;
const servers: CliServer[] = [];

beforeAll(async () => {
    receiver = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString("utf8")));
        req.on("end", () => {
            exports.push({ path: req.url ?? "", body });
            res.writeHead(200, { "content-type": "application/json" });
            res.end("{}");
        });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    stub = await startStubModel();
    dir = mkdtempSync(path.join(os.tmpdir(), "copilot-fleet-otel-"));
}, 60_000);

afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await stub?.stop();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One server configured from the spec, one turn with `prompt`; returns what reached the receiver. */
async function exportsForTurn(instance: string, telemetry: TelemetrySettings, prompt: string): Promise<{ metrics: unknown[]; traces: unknown[]; raw: string; token: string }> {
    const spec = buildServerSpec({ credential: { kind: "provider" }, telemetry });
    const env = Object.fromEntries([...spec.env.filter((e) => e.name.startsWith("OTEL_")), ...telemetryInstanceEnv(spec, instance)].map((e) => [e.name, e.value]));
    const token = `otel-${instance}-${Date.now()}`;
    const server = await startCliServer({
        name: instance,
        dir: path.join(dir, instance),
        connectionToken: token,
        provider: { type: "openai", baseUrl: stub.baseUrl, model: stub.model },
        cacheDir: defaultCliCacheDir(),
        extraEnv: env,
    });
    servers.push(server);
    const pool = new ClientPool(token);
    const first = exports.length;
    try {
        const s = await pool.client(server.endpoint).createSession({ onPermissionRequest: approveAll, provider: { type: "openai", baseUrl: stub.baseUrl }, model: stub.model });
        await turn(s, prompt);
        await s.disconnect();
        // Measured: both signals are exported within ~100 ms of the turn; allow 15 s on a loaded machine.
        const deadline = Date.now() + 15_000;
        const mine = (): Export[] => exports.slice(first);
        while (Date.now() < deadline && !(mine().some((e) => e.path === "/v1/metrics") && mine().some((e) => e.path === "/v1/traces"))) {
            await new Promise((r) => setTimeout(r, 100));
        }
        const got = mine();
        return {
            metrics: got.filter((e) => e.path === "/v1/metrics").map((e) => JSON.parse(e.body) as unknown),
            traces: got.filter((e) => e.path === "/v1/traces").map((e) => JSON.parse(e.body) as unknown),
            raw: got.map((e) => e.body).join("\n"),
            token,
        };
    } finally {
        await pool.stopAll();
        await server.stop();
    }
}

/** Every `name` under `key` arrays (metrics / spans) and every resource attribute, anywhere in an OTLP JSON body. */
function collect(bodies: unknown[], key: "metrics" | "spans"): { names: Set<string>; resource: Map<string, string> } {
    const names = new Set<string>();
    const resource = new Map<string, string>();
    const walk = (o: unknown): void => {
        if (Array.isArray(o)) return o.forEach(walk);
        if (o === null || typeof o !== "object") return;
        const rec = o as Record<string, unknown>;
        if (Array.isArray(rec[key])) for (const m of rec[key] as { name?: string }[]) if (typeof m.name === "string") names.add(m.name);
        const res = rec.resource as { attributes?: { key: string; value: { stringValue?: string } }[] } | undefined;
        for (const a of res?.attributes ?? []) if (a.value.stringValue !== undefined) resource.set(a.key, a.value.stringValue);
        Object.values(rec).forEach(walk);
    };
    walk(bodies);
    return { names, resource };
}

describe("OpenTelemetry export from the real CLI", () => {
    it("exports traces and gen_ai metrics, named by instance, with no prompt content by default", async () => {
        const prompt = "telemetry-probe-7d1c: what is two plus two?";
        const got = await exportsForTurn(
            "replica-0",
            { otlpEndpoint: receiverUrl, protocol: "http/json", captureContent: false, resourceAttributes: { "deployment.environment.name": "ci" } },
            prompt,
        );
        const metrics = collect(got.metrics, "metrics");
        const spans = collect(got.traces, "spans");
        for (const m of ["gen_ai.invoke_agent.duration", "gen_ai.client.inference.duration", "gen_ai.client.inference.usage.input_tokens", "github.copilot.agent.turn.count"]) {
            expect(metrics.names.has(m), `metric ${m} in ${[...metrics.names].join(", ")}`).toBe(true);
        }
        expect([...spans.names].some((n) => n.startsWith("invoke_agent")), [...spans.names].slice(0, 20).join(", ")).toBe(true);
        expect([...spans.names].some((n) => n === `chat ${stub.model}`)).toBe(true);
        for (const r of [metrics.resource, spans.resource]) {
            expect(r.get("service.name")).toBe("copilot-cli");
            expect(r.get("service.instance.id")).toBe("replica-0");
            expect(r.get("service.namespace")).toBe("copilot-fleet");
            expect(r.get("deployment.environment.name")).toBe("ci");
        }
        expect(got.raw).not.toContain("telemetry-probe-7d1c");
        expect(got.raw).not.toContain(got.token);
    }, 90_000);

    it("captureContent: true exports the prompt (so the check above can fail)", async () => {
        const got = await exportsForTurn(
            "replica-1",
            { otlpEndpoint: receiverUrl, protocol: "http/json", captureContent: true, resourceAttributes: {} },
            "telemetry-probe-92ab: and three plus three?",
        );
        expect(collect(got.traces, "spans").resource.get("service.instance.id")).toBe("replica-1");
        expect(got.raw).toContain("telemetry-probe-92ab");
    }, 90_000);
});
