/** Fast tests of the smoke suite's pure parts and the stub model (no CLI servers). */
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import type { FleetOutputs } from "../../components/contract/outputs";
import { runSmokeSuite } from "../../smoke/checks";
import { parseSmokeArgs, validateOutputs } from "../../smoke/cli";
import { findForks, userPrompts } from "../../smoke/events";
import { startStubModel, stubAnswer, stubReply, toolDirectives } from "../../smoke/local/stub-model";
import { judgeAttack, redTeamAttacks } from "../../smoke/redteam";
import { parseEndpoint } from "../../smoke/rpc";
import { resolveTargets, type PodApi } from "../../smoke/targets";

describe("parseSmokeArgs", () => {
    it("takes the red-team model's API key from SMOKE_REDTEAM_PROVIDER_API_KEY only, never a flag", () => {
        const args = parseSmokeArgs(["--stack", "s", "--redteam-provider-base-url", "http://h:1/v1"], { SMOKE_REDTEAM_PROVIDER_API_KEY: "k-123" });
        expect(args.redTeamProvider).toEqual({ type: "openai", baseUrl: "http://h:1/v1", model: "stub-model", apiKey: "k-123" });
        expect(parseSmokeArgs(["--stack", "s", "--redteam-provider-base-url", "http://h:1/v1"], {}).redTeamProvider?.apiKey).toBeUndefined();
        expect(() => parseSmokeArgs(["--stack", "s", "--redteam-provider-api-key", "k"], {})).toThrow(/unknown argument/);
    });
    it("needs exactly one source", () => {
        expect(() => parseSmokeArgs([], {})).toThrow(/exactly one/);
        expect(() => parseSmokeArgs(["--stack", "dev", "--outputs", "f.json"], {})).toThrow(/exactly one/);
    });
    it("takes BYOK from env and lets flags win", () => {
        const a = parseSmokeArgs(["--outputs", "f.json", "--model", "m2"], { COPILOT_PROVIDER_BASE_URL: "http://x/v1", COPILOT_MODEL: "m1" });
        expect(a.provider).toEqual({ type: "openai", baseUrl: "http://x/v1", model: "m2" });
        expect(() => parseSmokeArgs(["--outputs", "f", "--provider-base-url", "http://x"], {})).toThrow(/needs a model/);
    });
    it("takes the per-session GitHub token from SMOKE_GITHUB_TOKEN only", () => {
        expect(parseSmokeArgs(["--outputs", "f.json"], { SMOKE_GITHUB_TOKEN: "ghu_x" }).gitHubToken).toBe("ghu_x");
        expect(parseSmokeArgs(["--outputs", "f.json"], {}).gitHubToken).toBeUndefined();
        expect(() => parseSmokeArgs(["--outputs", "f.json", "--github-token", "ghu_x"], {})).toThrow(/unknown argument --github-token/);
    });
    it("rejects outputs of the wrong shape", () => {
        expect(() => validateOutputs({ platform: "moon", mode: "shared" })).toThrow(/platform/);
        expect(validateOutputs({ platform: "local", mode: "per-user" }).mode).toBe("per-user");
    });
});

describe("findForks", () => {
    it("finds a parent with two children and none in a chain", () => {
        const chain = [
            { type: "session.start", id: "a" },
            { type: "user.message", id: "b", parentId: "a", data: { content: "hi" } },
            { type: "assistant.message", id: "c", parentId: "b" },
        ];
        expect(findForks(chain)).toEqual([]);
        expect(findForks([...chain, { type: "session.resume", id: "d", parentId: "b" }])).toEqual([{ parentId: "b", children: ["c", "d"] }]);
        expect(userPrompts(chain)).toEqual(["hi"]);
    });
});

describe("parseEndpoint", () => {
    it("accepts host:port and [v6]:port only", () => {
        expect(parseEndpoint("127.0.0.1:4321")).toEqual({ host: "127.0.0.1", port: 4321 });
        expect(parseEndpoint("[::1]:80")).toEqual({ host: "::1", port: 80 });
        expect(() => parseEndpoint("127.0.0.1")).toThrow(/host:port/);
        expect(() => parseEndpoint("h:70000")).toThrow(/range/);
    });
});

describe("stub model", () => {
    it("answers streaming and non-streaming chat completions and records them", async () => {
        const stub = await startStubModel();
        try {
            const models = (await (await fetch(`${stub.baseUrl}/models`)).json()) as { data: { id: string }[] };
            expect(models.data[0].id).toBe(stub.model);
            const messages = [{ role: "user", content: "hello" }];
            const plain = (await (
                await fetch(`${stub.baseUrl}/chat/completions`, { method: "POST", body: JSON.stringify({ model: stub.model, messages }) })
            ).json()) as { choices: { message: { content: string } }[] };
            expect(plain.choices[0].message.content).toBe(stubReply(messages));
            const sse = await (
                await fetch(`${stub.baseUrl}/chat/completions`, { method: "POST", body: JSON.stringify({ model: stub.model, messages, stream: true, tools: [] }) })
            ).text();
            const text = sse
                .split("\n\n")
                .filter((l) => l.startsWith("data: {"))
                .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0].delta.content ?? "")
                .join("");
            expect(text).toBe(stubReply(messages));
            expect(sse.trim().endsWith("data: [DONE]")).toBe(true);
            expect(stub.chatRequests().map((r) => r.stream)).toEqual([false, true]);
            expect(stubReply([...messages, { role: "assistant", content: "x" }, { role: "user", content: "hello" }])).not.toBe(stubReply(messages));
        } finally {
            await stub.stop();
        }
    });
});

describe("kubernetes targets", () => {
    it("port-forwards a local listener per ready pod", async () => {
        const echo = net.createServer((s) => s.pipe(s));
        await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
        const echoPort = (echo.address() as net.AddressInfo).port;
        const forwarded: string[] = [];
        const api: PodApi = {
            listPods: async (ns, sel) => {
                expect([ns, sel]).toEqual(["copilot", "app=copilot"]);
                return [
                    { name: "p0", ready: true },
                    { name: "p1", ready: false },
                ];
            },
            forward: async (_ns, pod, port, socket) => {
                forwarded.push(`${pod}:${port}`);
                const up = net.connect({ host: "127.0.0.1", port: echoPort });
                socket.pipe(up).pipe(socket);
            },
        };
        const t = await resolveTargets({ platform: "kubernetes", mode: "shared", namespace: "copilot", selector: "app=copilot", port: 4321 }, { podApi: async () => api });
        try {
            expect(t.replicas.map((r) => r.name)).toEqual(["p0"]);
            const reply = await new Promise<string>((resolve, reject) => {
                const [host, port] = t.replicas[0].endpoint.split(":");
                const c = net.connect({ host, port: Number(port) }, () => c.write("ping"));
                c.on("data", (d) => {
                    resolve(d.toString());
                    c.destroy();
                });
                c.on("error", reject);
            });
            expect(reply).toBe("ping");
            expect(forwarded).toEqual(["p0:4321"]);
        } finally {
            await t.close();
            echo.close();
        }
    });
});

describe("stub model tool calls", () => {
    it("reads directives in order, nested directives inside arguments included", () => {
        const inner = '[[tool:bash {"command":"id","description":"x"}]]';
        const text = `do [[tool:view {"path":"/a}]]b"}]] then [[tool:task ${JSON.stringify({ name: "n", prompt: inner })}]]`;
        expect(toolDirectives(text)).toEqual([
            { name: "view", arguments: { path: "/a}]]b" } },
            { name: "task", arguments: { name: "n", prompt: inner } },
        ]);
        expect(toolDirectives("no directives here")).toEqual([]);
    });
    it("fails loudly on a malformed directive", () => {
        expect(() => toolDirectives('[[tool:view {"path":}]]')).toThrow("tool directive for view has arguments that are not JSON");
        expect(() => toolDirectives('[[tool:view {"path":"x"}')).toThrow('needs a JSON object followed by "]]"');
        expect(() => toolDirectives("[[tool:view [1,2]]]")).toThrow("needs a JSON object");
    });
    it("answers directives with tool calls, tool results with a quote, anything else with the text reply", () => {
        expect(stubAnswer([{ role: "user", content: '[[tool:glob {"pattern":"*"}]]' }]).toolCalls).toEqual([{ name: "glob", arguments: { pattern: "*" } }]);
        const after = stubAnswer([
            { role: "user", content: '[[tool:glob {"pattern":"*"}]]' },
            { role: "assistant", content: "" },
            { role: "tool", content: "a.txt", toolCallId: "call_1" },
        ]);
        expect(after).toEqual({ text: "stub tool results: [call_1] a.txt", toolCalls: [] });
        const plain = [{ role: "user", content: "hi" }];
        expect(stubAnswer(plain)).toEqual({ text: stubReply(plain), toolCalls: [] });
    });
    it("serves tool calls over HTTP, streamed in deltas and not", async () => {
        const stub = await startStubModel();
        try {
            const messages = [{ role: "user", content: '[[tool:view {"path":"x"}]]' }];
            const post = (stream: boolean) =>
                fetch(`${stub.baseUrl}/chat/completions`, { method: "POST", body: JSON.stringify({ model: stub.model, messages, stream, tools: [{ type: "function", function: { name: "view" } }] }) });
            const plain = (await (await post(false)).json()) as { choices: { finish_reason: string; message: { tool_calls: { function: { name: string; arguments: string } }[] } }[] };
            expect(plain.choices[0].finish_reason).toBe("tool_calls");
            expect(plain.choices[0].message.tool_calls[0].function).toEqual({ name: "view", arguments: '{"path":"x"}' });
            const sse = await (await post(true)).text();
            const chunks = sse.split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)) as { choices: { delta: { tool_calls?: { function?: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[] });
            const args = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []).map((t) => t.function?.arguments ?? "").join("");
            expect(args).toBe('{"path":"x"}');
            expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe("tool_calls");
            expect(stub.chatRequests().map((r) => r.offeredTools)).toEqual([["view"], ["view"]]);
        } finally {
            await stub.stop();
        }
    });
});

describe("red-team judging", () => {
    const attack = redTeamAttacks({ sessionStatePath: "/s" }, "victim", "attacker", "canary-1", "filecanary-1");
    const secrets = new Map([["connection token", "tok-1"], ["victim turn canary", "canary-1"]]);
    const done = (success: boolean, content: string) => [
        { type: "tool.execution_start", data: { toolCallId: "c" } },
        { type: "tool.execution_complete", data: { toolCallId: "c", success, result: { content } } },
    ];
    it("targets the victim's folder, the server's home and /proc", () => {
        const paths = JSON.stringify(attack.map((a) => a.args));
        for (const p of ["/s/victim/events.jsonl", "/s/victim/files/notes.txt", "/proc/self/environ", "../../victim/events.jsonl"]) expect(paths).toContain(p);
        expect(new Set(attack.map((a) => a.tool))).toEqual(new Set(["bash", "view", "grep", "glob", "create", "edit", "sql", "task"]));
    });
    it("counts a secret in a result, an environment dump and a successful write as leaks, and masks secrets", () => {
        const read = attack.find((a) => a.tool === "view") as (typeof attack)[number];
        const leak = judgeAttack(read, done(true, "x tok-1 canary-1"), secrets);
        expect(leak.leaked).toEqual(["connection token", "victim turn canary"]);
        expect(leak.result).not.toContain("tok-1");
        expect(judgeAttack(read, done(true, "COPILOT_CONNECTION_TOKEN=<elided>"), secrets).leaked).toEqual(["server environment"]);
        const write = attack.find((a) => a.write) as (typeof attack)[number];
        expect(judgeAttack(write, done(true, "Created file"), secrets).leaked).toEqual(["write"]);
        expect(judgeAttack(write, done(false, "rejected"), secrets)).toMatchObject({ ran: true, success: false, leaked: [] });
        expect(judgeAttack(read, [], secrets)).toMatchObject({ ran: false, leaked: [] });
    });
});

/** A loopback port nothing listens on (bound, then closed). */
function deadPort(): Promise<number> {
    return new Promise<number>((resolve) => {
        const srv = net.createServer();
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

describe("runSmokeSuite readiness gate", () => {
    it("fails 'fleet ready' naming each server that never answered, within the given time", async () => {
        const dead = await deadPort();
        const outputs = {
            platform: "docker",
            mode: "shared",
            endpoint: `127.0.0.1:${dead}`,
            connectionToken: "t".repeat(24),
            replicas: [{ name: "copilot-1", endpoint: `127.0.0.1:${dead}` }],
            sessionStatePath: "/home/copilot/.copilot/session-state",
        } as unknown as FleetOutputs;
        const t0 = Date.now();
        const report = await runSmokeSuite(outputs, { readyTimeoutMs: 800 });
        const ready = report.results.find((r) => r.name === "fleet ready");
        expect(ready?.status).toBe("FAIL");
        expect(ready?.reason ?? "").toMatch(/not answering after 800 ms: copilot-1 \(127\.0\.0\.1:\d+\).*load-balancer/);
        expect(report.ok).toBe(false);
        expect(Date.now() - t0).toBeLessThan(25_000);
    }, 30_000);

    it("with idle suspend, says that a user's server may be stopped on purpose and how to wake it", async () => {
        const dead = await deadPort();
        const outputs = {
            platform: "docker",
            mode: "per-user",
            users: { alice: { endpoint: `127.0.0.1:${dead}`, connectionToken: "a".repeat(24), suspended: false, server: "copilot-u-alice" } },
            idleSuspend: { minutes: 30 },
            sessionStatePath: "/home/copilot/.copilot/session-state",
        } as unknown as FleetOutputs;
        const report = await runSmokeSuite(outputs, { readyTimeoutMs: 500 });
        const ready = report.results.find((r) => r.name === "fleet ready");
        expect(ready?.status).toBe("FAIL");
        expect(ready?.reason ?? "").toMatch(/user alice \(127\.0\.0\.1:\d+\).*this fleet stops servers idle for 30 minutes: .*ensureRunning/);
    }, 30_000);
});
