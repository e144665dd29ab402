/**
 * The platform controls against small fake APIs on loopback: the exact requests they send (paths,
 * verbs, patch bodies, field manager), how they read the suspended marker, and that a platform's
 * refusal comes back as a ControlError naming the call and the platform's answer, never the token.
 */
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { aciControl, AZURE_SUSPENDED_TAG, ControlError, dockerControl, ensureRunning, kubernetesControl, managedIdentityToken, WakeRefusedError } from "@copilot-fleet/client";

interface Seen {
    method: string;
    url: string;
    auth?: string;
    type?: string;
    body: string;
}
type Handler = (req: Seen) => { status: number; body?: unknown };
const servers: http.Server[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), "control-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function fake(handler: Handler, listenOn: number | string = 0): Promise<{ seen: Seen[]; url: string }> {
    const seen: Seen[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const s: Seen = { method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization, type: req.headers["content-type"], body: Buffer.concat(chunks).toString() };
            seen.push(s);
            const a = handler(s);
            res.writeHead(a.status, { "Content-Type": "application/json" });
            res.end(a.body === undefined ? "" : JSON.stringify(a.body));
        });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(listenOn, "127.0.0.1" as never, () => r()));
    const addr = server.address();
    return { seen, url: typeof addr === "object" && addr ? `http://127.0.0.1:${addr.port}` : String(addr) };
}

describe("kubernetesControl", () => {
    const deployment = (replicas: number, suspended?: string) => ({ spec: { replicas }, metadata: { annotations: suspended === undefined ? {} : { "copilot-fleet.github.com/suspended": suspended } } });

    it("scales through the scale subresource with a merge patch and its field manager, and reads the marker and wake mark", async () => {
        const api = await fake((r) => {
            if (r.url.startsWith("/api/v1/namespaces/fleet/configmaps/copilot-wake-marks")) return { status: 200, body: { data: { alice: "2026-12-02T01:00:00.000Z" } } };
            if (r.method === "GET") return { status: 200, body: deployment(0, "false") };
            return { status: 200, body: {} };
        });
        const c = kubernetesControl({ namespace: "fleet", deploymentName: (u) => `copilot-u-${u}`, apiServer: api.url, token: () => "sa-token", wakeMarks: "copilot-wake-marks" });
        expect(await c.state("alice")).toEqual({ running: false, suspendedInConfig: false, wantedAtMs: Date.parse("2026-12-02T01:00:00.000Z") });
        await c.start("alice");
        await c.stop("alice");
        await c.touch?.("alice");
        const writes = api.seen.filter((s) => s.method === "PATCH");
        expect(writes.map((w) => [w.url, w.type, JSON.parse(w.body)])).toEqual([
            ["/apis/apps/v1/namespaces/fleet/deployments/copilot-u-alice/scale?fieldManager=copilot-fleet-suspender", "application/merge-patch+json", { spec: { replicas: 1 } }],
            ["/apis/apps/v1/namespaces/fleet/deployments/copilot-u-alice/scale?fieldManager=copilot-fleet-suspender", "application/merge-patch+json", { spec: { replicas: 0 } }],
            ["/api/v1/namespaces/fleet/configmaps/copilot-wake-marks?fieldManager=copilot-fleet-suspender", "application/merge-patch+json", { data: { alice: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) } }],
        ]);
        expect(new Set(api.seen.map((s) => s.auth))).toEqual(new Set(["Bearer sa-token"]));
    });

    it("says which call the API refused and why, without the token", async () => {
        const api = await fake(() => ({ status: 403, body: { kind: "Status", message: 'deployments.apps "copilot-u-bob" is forbidden: User cannot patch resource "deployments/scale"' } }));
        const c = kubernetesControl({ namespace: "fleet", deploymentName: (u) => `copilot-u-${u}`, apiServer: api.url, token: () => "sa-token" });
        const err = await c.start("bob").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ControlError);
        expect((err as Error).message).toBe('scale deployment copilot-u-bob to 1: 403: deployments.apps "copilot-u-bob" is forbidden: User cannot patch resource "deployments/scale"');
        expect((err as Error).message).not.toContain("sa-token");
    });

    it("a wake refuses a Deployment marked suspended, and one with no marker, without scaling it or marking it wanted", async () => {
        for (const [marker, why, wakeMarks] of [
            ["true", /suspended: true/, undefined],
            [undefined, /carries no copilot-fleet.github.com\/suspended marker/, undefined],
            ["true", /suspended: true/, "copilot-wake-marks"],
        ] as const) {
            const api = await fake((r) => (r.method === "GET" ? { status: 200, body: deployment(0, marker) } : { status: 200, body: {} }));
            const c = kubernetesControl({ namespace: "fleet", deploymentName: (u) => `copilot-u-${u}`, apiServer: api.url, token: () => "t", wakeMarks });
            expect(c.touch === undefined).toBe(wakeMarks === undefined);
            await expect(ensureRunning("bob", { control: c, endpoint: "127.0.0.1:1", connectionToken: "x" })).rejects.toThrow(WakeRefusedError);
            await expect(ensureRunning("bob", { control: c, endpoint: "127.0.0.1:1", connectionToken: "x" })).rejects.toThrow(why);
            expect(api.seen.filter((s) => s.method !== "GET")).toEqual([]);
        }
    });
});

describe("dockerControl", () => {
    it("stops and starts the container over the engine socket and reads the label", async () => {
        const sock = path.join(dir, "docker.sock");
        const api = await fake((r) => {
            if (r.url === "/containers/copilot-u-alice/json") return { status: 200, body: { State: { Running: true }, Config: { Labels: { "copilot-fleet.github.com/suspended": "false" } }, NetworkSettings: { Ports: { "4321/tcp": [{ HostIp: "127.0.0.1", HostPort: "32801" }] } } } };
            if (r.url.endsWith("/start")) return { status: 304 };
            return { status: 204 };
        }, sock);
        const c = dockerControl({ containerName: (u) => `copilot-u-${u}`, socketPath: sock });
        expect(await c.state("alice")).toEqual({ running: true, suspendedInConfig: false, endpoint: "127.0.0.1:32801" });
        await c.stop("alice");
        await c.start("alice");
        expect(api.seen.map((s) => `${s.method} ${s.url}`)).toEqual(["GET /containers/copilot-u-alice/json", "POST /containers/copilot-u-alice/stop?t=10", "POST /containers/copilot-u-alice/start"]);
    });

    it("stops the server's companions after it and starts them after it; startCompanions starts only them", async () => {
        const sock = path.join(dir, "docker3.sock");
        const api = await fake(() => ({ status: 204 }), sock);
        const c = dockerControl({ containerName: (u) => `copilot-u-${u}`, companions: (u) => [`copilot-u-${u}-session-cleanup`], socketPath: sock });
        await c.stop("alice");
        await c.start("alice");
        await c.startCompanions?.("alice");
        expect(api.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
            "POST /containers/copilot-u-alice/stop?t=10",
            "POST /containers/copilot-u-alice-session-cleanup/stop?t=10",
            "POST /containers/copilot-u-alice/start",
            "POST /containers/copilot-u-alice-session-cleanup/start",
            "POST /containers/copilot-u-alice-session-cleanup/start",
        ]);
        expect(dockerControl({ containerName: (u) => u, socketPath: sock }).startCompanions).toBeUndefined();
    });

    it("says why a start failed", async () => {
        const sock = path.join(dir, "docker2.sock");
        await fake(() => ({ status: 404, body: { message: "No such container: copilot-u-zed" } }), sock);
        const c = dockerControl({ containerName: (u) => `copilot-u-${u}`, socketPath: sock });
        await expect(c.start("zed")).rejects.toThrow("start container copilot-u-zed: 404: No such container: copilot-u-zed");
    });
});

describe("aciControl", () => {
    const base = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/copilot-u-alice";

    it("uses the container group's stop and start actions and reads the instance view, the tag and the current address", async () => {
        const arm = await fake((r) =>
            r.method === "GET"
                ? {
                      status: 200,
                      body: { tags: { [AZURE_SUSPENDED_TAG]: "false" }, properties: { instanceView: { state: "Stopped" }, ipAddress: { ip: "10.42.0.9", ports: [{ port: 4321, protocol: "TCP" }] } } },
                  }
                : { status: 204 },
        );
        const c = aciControl({ subscriptionId: "sub", resourceGroupName: "rg", groupName: (u) => `copilot-u-${u}`, getToken: async () => "arm-token", armEndpoint: arm.url });
        expect(await c.state("alice")).toEqual({ running: false, suspendedInConfig: false, endpoint: "10.42.0.9:4321" });
        await c.start("alice");
        await c.stop("alice");
        expect(arm.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
            `GET ${base}?api-version=2023-05-01`,
            `POST ${base}/start?api-version=2023-05-01`,
            `POST ${base}/stop?api-version=2023-05-01`,
        ]);
        expect(arm.seen[0].auth).toBe("Bearer arm-token");
    });

    it("a start that ARM answers 409 (a start or stop already in progress) is left to the wake's next read; a 409 stop is an error", async () => {
        const arm = await fake(() => ({ status: 409, body: { error: { code: "Conflict", message: "The container group is transitioning." } } }));
        const c = aciControl({ subscriptionId: "sub", resourceGroupName: "rg", groupName: (u) => `copilot-u-${u}`, getToken: async () => "t", armEndpoint: arm.url });
        await expect(c.start("alice")).resolves.toBeUndefined();
        await expect(c.stop("alice")).rejects.toThrow("stop container group copilot-u-alice: 409: The container group is transitioning.");
    });

    it("reads the tag as the fleet writes it on ACI (. for /), not the label spelling", async () => {
        expect(AZURE_SUSPENDED_TAG).toBe("copilot-fleet.github.com.suspended");
        const arm = await fake(() => ({ status: 200, body: { tags: { "copilot-fleet.github.com/suspended": "false" }, properties: { instanceView: { state: "Running" } } } }));
        const c = aciControl({ subscriptionId: "sub", resourceGroupName: "rg", groupName: (u) => `copilot-u-${u}`, getToken: async () => "t", armEndpoint: arm.url });
        expect(await c.state("alice")).toEqual({ running: true, suspendedInConfig: undefined });
    });

    it("a missing group (a user suspended in config has none on ACI) is an error that says so, and a wake starts nothing", async () => {
        const arm = await fake(() => ({ status: 404, body: { error: { code: "ResourceNotFound", message: "The Resource 'Microsoft.ContainerInstance/containerGroups/copilot-u-alice' was not found." } } }));
        const c = aciControl({ subscriptionId: "sub", resourceGroupName: "rg", groupName: (u) => `copilot-u-${u}`, getToken: async () => "arm-token-secret", armEndpoint: arm.url });
        const err = (await c.state("alice").catch((e: unknown) => e)) as ControlError;
        expect(err).toBeInstanceOf(ControlError);
        expect(err.status).toBe(404);
        expect(err.message).toContain("container group copilot-u-alice does not exist in resource group rg (a user suspended in config has none on ACI");
        expect(err.message).toContain("was not found");
        expect(err.message).not.toContain("arm-token-secret");
        await expect(ensureRunning("alice", { control: c, connectionToken: "x", timeoutMs: 2000 })).rejects.toThrow(/cannot read the server's state on aci: container group copilot-u-alice does not exist/);
        expect(arm.seen.filter((s) => s.method === "POST")).toEqual([]);
    });
});

describe("managedIdentityToken", () => {
    it("asks the metadata service for an ARM token of the given identity, and keeps it until five minutes before it expires", async () => {
        let n = 0;
        const imds = await fake(() => ({ status: 200, body: { access_token: `tok-${++n}`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: "https://management.azure.com/" } }));
        const get = managedIdentityToken({ clientId: "client-1", endpoint: imds.url });
        expect(await Promise.all([get(), get()])).toEqual(["tok-1", "tok-1"]);
        expect(await get()).toBe("tok-1");
        expect(imds.seen).toHaveLength(1);
        const q = new URL(imds.seen[0].url, "http://x");
        expect(q.pathname).toBe("/metadata/identity/oauth2/token");
        expect(Object.fromEntries(q.searchParams)).toEqual({ "api-version": "2018-02-01", resource: "https://management.azure.com/", client_id: "client-1" });
    });

    it("fetches a new token once the old one is within five minutes of expiring", async () => {
        let n = 0;
        const imds = await fake(() => ({ status: 200, body: { access_token: `tok-${++n}`, expires_on: String(Math.floor(Date.now() / 1000) + 200) } }));
        const get = managedIdentityToken({ endpoint: imds.url });
        expect(await get()).toBe("tok-1");
        expect(await get()).toBe("tok-2");
        expect(new URL(imds.seen[0].url, "http://x").searchParams.has("client_id")).toBe(false);
    });

    it("says what the metadata service answered, and never a token", async () => {
        const imds = await fake(() => ({ status: 400, body: { error: "invalid_request", error_description: "Identity not found" } }));
        const err = (await managedIdentityToken({ clientId: "nope", endpoint: imds.url })().catch((e: unknown) => e)) as ControlError;
        expect(err).toBeInstanceOf(ControlError);
        expect(err.message).toBe(`managed identity token from ${imds.url}: 400: invalid_request: Identity not found`);
    });
});
