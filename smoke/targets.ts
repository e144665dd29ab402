/**
 * How the smoke suite reaches each server: directly (docker, aci, local: `replicas[].endpoint`), or on
 * Kubernetes by port-forwarding to each pod through the Kubernetes API (pods have no routable address
 * from where the suite runs). Each target is a `host:port` on the suite's side.
 */
import * as net from "node:net";
import type { FleetOutputs } from "../components/contract/outputs";
import { CLI_PORT } from "../components/contract/server";

export interface Target {
    readonly name: string;
    readonly endpoint: string;
}

export interface Targets {
    readonly replicas: readonly Target[];
    /** per-user mode: user id → the address to dial for that user's server. */
    readonly users: ReadonlyMap<string, Target>;
    close(): Promise<void>;
}

/** The pieces of @kubernetes/client-node the port-forwarder needs (an interface so the logic is testable). */
export interface PodApi {
    listPods(namespace: string, labelSelector: string): Promise<{ name: string; ready: boolean }[]>;
    /** Pipe one local socket to `port` in the pod. */
    forward(namespace: string, pod: string, port: number, socket: net.Socket): Promise<void>;
}

export async function kubernetesPodApi(): Promise<PodApi> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pf = new k8s.PortForward(kc, true);
    return {
        async listPods(namespace, labelSelector) {
            const list = await core.listNamespacedPod({ namespace, labelSelector });
            return list.items
                .filter((p) => p.metadata?.name && p.status?.phase === "Running")
                .map((p) => ({
                    name: p.metadata?.name as string,
                    ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
                }));
        },
        async forward(namespace, pod, port, socket) {
            await pf.portForward(namespace, pod, [port], socket, null, socket);
        },
    };
}

/** A local listener on 127.0.0.1:0 whose every connection is forwarded to `port` in `pod`. */
export async function listenForPod(api: PodApi, namespace: string, pod: string, port: number): Promise<{ endpoint: string; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        api.forward(namespace, pod, port, socket).catch((e: unknown) => {
            socket.destroy(e instanceof Error ? e : new Error(String(e)));
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    return {
        endpoint: `127.0.0.1:${addr.port}`,
        close: () =>
            new Promise<void>((resolve) => {
                for (const s of sockets) s.destroy();
                server.close(() => resolve());
            }),
    };
}

export async function resolveTargets(outputs: FleetOutputs, opts: { podApi?: () => Promise<PodApi> } = {}): Promise<Targets> {
    if (outputs.platform !== "kubernetes") {
        const users = new Map<string, Target>(Object.entries(outputs.users ?? {}).map(([id, u]) => [id, { name: id, endpoint: u.endpoint }]));
        return { replicas: (outputs.replicas ?? []).map((r) => ({ name: r.name, endpoint: r.endpoint })), users, close: async () => undefined };
    }
    if (!outputs.namespace) throw new Error("kubernetes outputs need `namespace` to port-forward to pods");
    const namespace = outputs.namespace;
    const port = outputs.port ?? CLI_PORT;
    const api = await (opts.podApi ?? kubernetesPodApi)();
    const closers: (() => Promise<void>)[] = [];
    const close = async (): Promise<void> => {
        await Promise.all(closers.map((c) => c()));
    };
    try {
        const replicas: Target[] = [];
        if (outputs.mode === "shared") {
            if (!outputs.selector) throw new Error("kubernetes shared outputs need `selector` to find the server pods");
            const pods = (await api.listPods(namespace, outputs.selector)).filter((p) => p.ready);
            if (pods.length === 0) throw new Error(`no ready pods match ${outputs.selector} in ${namespace}`);
            for (const p of pods) {
                const l = await listenForPod(api, namespace, p.name, port);
                closers.push(l.close);
                replicas.push({ name: p.name, endpoint: l.endpoint });
            }
        }
        const users = new Map<string, Target>();
        for (const [id, u] of Object.entries(outputs.users ?? {})) {
            if (u.suspended) continue;
            if (!u.selector) {
                users.set(id, { name: id, endpoint: u.endpoint });
                continue;
            }
            const pods = (await api.listPods(namespace, u.selector)).filter((p) => p.ready);
            if (pods.length === 0) throw new Error(`user ${id}: no ready pod matches ${u.selector} in ${namespace}`);
            const l = await listenForPod(api, namespace, pods[0].name, port);
            closers.push(l.close);
            users.set(id, { name: id, endpoint: l.endpoint });
        }
        return { replicas, users, close };
    } catch (e) {
        await close();
        throw e;
    }
}
