/**
 * The kubernetes platform through the real engine against a real API server (issue 12): a local
 * control plane (scripts/kube-local.sh: kube-apiserver v1.34.4 on etcd, kube-controller-manager,
 * kube-scheduler and our simulated kubelet, which reports bound pods Running and Ready without
 * running them), `pulumi up` of a shared and a per-user stack through the kubernetes plugin, checks
 * with kubectl of what the API server holds, a second preview that must plan no change, and
 * `pulumi destroy` that must leave nothing behind.
 *
 * What this proves: every object the program renders is accepted by the API server and its
 * admission (Pod Security `restricted` enforced on both namespaces), the controllers turn the
 * Deployments into admitted pods, the provider's awaits (Deployment rollout, Service endpoints,
 * PVC binding) finish, and the diffs settle. What it does not: that the containers run (the
 * kubelet runs nothing), NetworkPolicy enforcement (no CNI) or LoadBalancer addresses.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, run, RunResult } from "../helpers/containers";
import { LABELS } from "../../components/kubernetes/render";
import { changeSummary, engine, EngineStack, engineDir } from "../helpers/engine";

const KUBE_LOCAL = path.join(REPO_ROOT, "scripts", "kube-local.sh");
/** kube-local builds kubectl at the API server's version (a link to its multi-call binary). */
const KUBECTL = () => path.join(engineDir(), "kube", "bin", "kubectl");
/** Created by kube-local with Pod Security `restricted` enforced; the per-user stack deploys into it. */
const PER_USER_NS = "cf-per-user";
/** Created by the shared stack itself (createNamespace, the program's own Pod Security labels). */
const SHARED_NS = "cf-shared";
const STORAGE_CLASS = "kube-local";
/** A prebuilt image reference: nothing is built or pulled (the simulated kubelet runs nothing). */
const IMAGE = "registry.invalid/copilot-cli:1.0.102";
const MINUTE = 60_000;

let stateDir = "";
let kubeconfig = "";
const stacks: EngineStack[] = [];
const live = new Set<EngineStack>();

async function kubectl(args: readonly string[], check = true): Promise<RunResult> {
    return run(KUBECTL(), args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeoutMs: 60_000, check });
}

interface Item {
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: Record<string, unknown>;
    status?: Record<string, unknown>;
}

async function getItems(kinds: string, ns: string): Promise<Item[]> {
    const r = await kubectl(["get", kinds, "-n", ns, "-o", "json"]);
    return (JSON.parse(r.stdout) as { items: Item[] }).items;
}

const names = (items: Item[], kind: string): string[] =>
    items
        .filter((i) => i.kind === kind)
        .map((i) => i.metadata.name)
        .sort();

/**
 * Every namespaced object left in `ns`, except what Kubernetes itself puts in every namespace. Polls
 * for up to 60 s: what the controllers made (ReplicaSets, pods, EndpointSlices) is garbage-collected
 * after its owner is gone, not with it.
 */
async function leftovers(ns: string): Promise<string[]> {
    let left = await leftoversNow(ns);
    for (let i = 0; i < 30 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        left = await leftoversNow(ns);
    }
    return left;
}

async function leftoversNow(ns: string): Promise<string[]> {
    const kinds = (await kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"])).stdout
        .split("\n")
        .filter((k) => k && !k.startsWith("events"));
    const r = await kubectl(["get", kinds.join(","), "-n", ns, "-o", "name", "--ignore-not-found"]);
    const builtIn = new Set(["serviceaccount/default", "configmap/kube-root-ca.crt"]);
    return r.stdout.split("\n").filter((l) => l && !builtIn.has(l));
}

function podReady(p: Item): boolean {
    const conditions = (p.status?.conditions ?? []) as { type: string; status: string }[];
    return p.status?.phase === "Running" && conditions.some((c) => c.type === "Ready" && c.status === "True");
}

/** StorageClass with static binding, and pre-created volumes the claims bind to (there is no provisioner). */
async function createVolumes(): Promise<void> {
    const docs: unknown[] = [
        { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: STORAGE_CLASS }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "Immediate", reclaimPolicy: "Retain" },
    ];
    const volume = (name: string, mode: string) => ({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name },
        spec: { storageClassName: STORAGE_CLASS, capacity: { storage: "10Gi" }, accessModes: [mode], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/tmp/kube-local-volumes/${name}` } },
    });
    docs.push(volume("shared-rwx", "ReadWriteMany"));
    for (let i = 0; i < 3; i++) docs.push(volume(`user-rwo-${i}`, "ReadWriteOnce"));
    const file = path.join(stateDir, "volumes.json");
    writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: docs }));
    await kubectl(["apply", "-f", file]);
}

function stack(name: string, config: Record<string, string>): EngineStack {
    const s = new EngineStack({ stack: name, config, env: { KUBECONFIG: kubeconfig } });
    stacks.push(s);
    return s;
}

/** `pulumi up`, remembering that the stack has resources to destroy even if up fails halfway. */
async function up(s: EngineStack): Promise<RunResult> {
    live.add(s);
    return s.up({ timeoutMs: 15 * MINUTE });
}

async function destroy(s: EngineStack): Promise<RunResult> {
    const r = await s.destroy({ timeoutMs: 15 * MINUTE });
    live.delete(s);
    return r;
}

/** The second run: nothing to change. `--expect-no-changes` makes the engine itself fail otherwise. */
async function expectNoChanges(s: EngineStack): Promise<void> {
    const r = await s.preview(["--expect-no-changes"], { timeoutMs: 10 * MINUTE, check: false });
    expect(r.code, `preview after up planned changes:\n${r.stdout}\n${r.stderr}`).toBe(0);
    const counts = changeSummary(r.stdout);
    expect(counts.create ?? 0).toBe(0);
    expect(counts.update ?? 0).toBe(0);
    expect(counts.replace ?? 0).toBe(0);
    expect(counts.delete ?? 0).toBe(0);
}

/** Pod Security really enforces `restricted` in `ns`: a pod that breaks it is refused. */
async function expectRestrictedEnforced(ns: string): Promise<void> {
    const labels = JSON.parse((await kubectl(["get", "namespace", ns, "-o", "jsonpath={.metadata.labels}"])).stdout) as Record<string, string>;
    expect(labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const r = await kubectl(["run", "psa-probe", "-n", ns, "--image", IMAGE, "--restart=Never", "--dry-run=server"], false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted/);
}

describe("kubernetes platform: real pulumi up/destroy against a local API server", () => {
    beforeAll(async () => {
        // No engine: fail now, before a control-plane build that could not be used.
        await engine();
        stateDir = mkdtempSync(path.join(os.tmpdir(), "cf-kube-local-"));
        // A cold build of the control plane takes tens of minutes; a warm start takes seconds.
        await run("bash", [KUBE_LOCAL, "start", "--dir", stateDir, "--namespace", PER_USER_NS], { timeoutMs: 80 * MINUTE });
        kubeconfig = path.join(stateDir, "kubeconfig");
        await createVolumes();
    }, 85 * MINUTE);

    afterAll(async () => {
        // Best effort on failure: destroy what an up created, then stop the control plane.
        for (const s of live) await s.destroy({ timeoutMs: 10 * MINUTE, check: false }).catch(() => undefined);
        for (const s of stacks) s.remove();
        if (stateDir) {
            await run("bash", [KUBE_LOCAL, "stop", "--dir", stateDir], { timeoutMs: 2 * MINUTE, check: false }).catch(() => undefined);
            rmSync(stateDir, { recursive: true, force: true });
        }
    }, 25 * MINUTE);

    it("shared fleet (2 replicas, its own namespace): up, every object accepted, pods admitted and Ready; no change on a second preview; destroy keeps the protected claim, unprotected leaves nothing", async () => {
        const s = stack("kube-shared", {
            "copilot-fleet:platform": "kubernetes",
            "copilot-fleet:mode": "shared",
            "copilot-fleet:replicas": "2",
            "copilot-fleet:image": IMAGE,
            "copilot-fleet:credentials": "perSession",
            "copilot-fleet:namespace": SHARED_NS,
            "copilot-fleet:storageClass": STORAGE_CLASS,
            // protectSessionState left at its default (on): destroy must keep the claim, below.
        });
        await s.create();
        await up(s);

        await expectRestrictedEnforced(SHARED_NS);
        const items = await getItems("deployments,replicasets,pods,services,endpoints,persistentvolumeclaims,secrets,networkpolicies,poddisruptionbudgets,cronjobs", SHARED_NS);
        expect(names(items, "Deployment")).toEqual(["copilot", "copilot-redis"]);
        expect(names(items, "Service")).toEqual(["copilot", "copilot-pods", "copilot-redis"]);
        expect(names(items, "PersistentVolumeClaim")).toEqual(["copilot-session-state"]);
        expect(names(items, "Secret")).toEqual(["copilot-credentials", "copilot-redis-config"]);
        expect(names(items, "NetworkPolicy")).toEqual(["copilot-redis", "copilot-server", "copilot-session-cleanup"]);
        expect(names(items, "CronJob")).toEqual(["copilot-session-cleanup"]);
        expect(names(items, "PodDisruptionBudget")).toEqual(["copilot"]);
        const claim = items.find((i) => i.kind === "PersistentVolumeClaim");
        expect(claim?.status?.phase).toBe("Bound");
        const deployment = items.find((i) => i.kind === "Deployment" && i.metadata.name === "copilot");
        expect(deployment?.status?.availableReplicas).toBe(2);
        // Pods exist only if Pod Security admitted them (enforced above); the kubelet made them Ready.
        const pods = items.filter((i) => i.kind === "Pod");
        expect(pods).toHaveLength(3); // 2 servers + Redis
        expect(pods.filter((p) => !podReady(p)).map((p) => p.metadata.name)).toEqual([]);
        const endpoints = items.find((i) => i.kind === "Endpoints" && i.metadata.name === "copilot") as unknown as { subsets?: { addresses?: unknown[] }[] };
        expect(endpoints?.subsets?.[0]?.addresses).toHaveLength(2);

        await expectNoChanges(s);

        // The protected claim: destroy deletes what does not hold it up (not "nothing": the servers,
        // Services, Secrets and Redis go), then fails on the claim, which stays Bound in its namespace.
        const claimUid = (await kubectl(["get", "pvc", "copilot-session-state", "-n", SHARED_NS, "-o", "jsonpath={.metadata.uid}"])).stdout;
        const refused = await s.destroy({ timeoutMs: 15 * MINUTE, check: false });
        expect(refused.code).not.toBe(0);
        expect(refused.stdout + refused.stderr).toMatch(/PersistentVolumeClaim::copilot-session-state"? cannot be deleted\s+because it is protected/);
        const kept = await getItems("deployments,services,secrets,persistentvolumeclaims", SHARED_NS);
        expect(kept.map((i) => `${i.kind}/${i.metadata.name}`)).toEqual(["PersistentVolumeClaim/copilot-session-state"]);
        expect(kept[0].status?.phase).toBe("Bound");

        // A later up brings the fleet back on the same claim (the sessions are still there).
        const back = changeSummary((await up(s)).stdout);
        expect(back.create).toBeGreaterThan(0);
        expect(back.replace ?? 0).toBe(0);
        expect((await kubectl(["get", "pvc", "copilot-session-state", "-n", SHARED_NS, "-o", "jsonpath={.metadata.uid}"])).stdout).toBe(claimUid);

        // The documented way to delete everything: protection off (only the protect flags change), then destroy.
        await s.setConfig({ "copilot-fleet:protectSessionState": "false" });
        const unprotect = changeSummary((await up(s)).stdout);
        for (const op of ["create", "update", "replace", "delete"]) expect(unprotect[op] ?? 0, op).toBe(0);
        await destroy(s);
        const ns = await kubectl(["get", "namespace", SHARED_NS, "--ignore-not-found", "-o", "name"]);
        // The namespace goes with the stack; while it terminates, nothing may be left in it.
        if (ns.stdout.trim() !== "") expect(await leftovers(SHARED_NS)).toEqual([]);
    }, 40 * MINUTE);

    it("per-user fleet (alice, bob; carol suspended) in a restricted namespace: up, accepted, Ready; no change on a second preview; destroy leaves nothing", async () => {
        const s = stack("kube-per-user", {
            "copilot-fleet:platform": "kubernetes",
            "copilot-fleet:mode": "per-user",
            "copilot-fleet:users": JSON.stringify(["alice", "bob", { id: "carol", suspended: true }]),
            "copilot-fleet:image": IMAGE,
            "copilot-fleet:credentials": "perSession",
            "copilot-fleet:namespace": PER_USER_NS,
            "copilot-fleet:createNamespace": "false",
            "copilot-fleet:storageClass": STORAGE_CLASS,
        });
        await s.create();
        await up(s);

        await expectRestrictedEnforced(PER_USER_NS);
        const items = await getItems("deployments,pods,services,persistentvolumeclaims,secrets,networkpolicies", PER_USER_NS);
        const users = ["alice", "bob", "carol"];
        expect(names(items, "Deployment")).toEqual(users.map((u) => `copilot-u-${u}`));
        expect(names(items, "Service")).toEqual(users.map((u) => `copilot-u-${u}`));
        expect(names(items, "Secret")).toEqual(users.map((u) => `copilot-u-${u}-credentials`));
        expect(names(items, "PersistentVolumeClaim")).toEqual(users.map((u) => `copilot-u-${u}-state`));
        expect(names(items, "NetworkPolicy")).toEqual(["copilot-default-deny", ...users.map((u) => `copilot-u-${u}`)]);
        expect(items.filter((i) => i.kind === "PersistentVolumeClaim").map((c) => c.status?.phase)).toEqual(["Bound", "Bound", "Bound"]);
        // The suspended user has no server, but keeps their claim (above).
        const carol = items.find((i) => i.kind === "Deployment" && i.metadata.name === "copilot-u-carol");
        expect(carol?.spec?.replicas).toBe(0);
        const pods = items.filter((i) => i.kind === "Pod");
        expect(pods.map((p) => p.metadata.labels?.[LABELS.user] ?? p.metadata.name).sort()).toEqual(["alice", "bob"]);
        expect(pods.filter((p) => !podReady(p)).map((p) => p.metadata.name)).toEqual([]);

        await expectNoChanges(s);

        // Suspend bob, resume carol: their two Deployments change and nothing else; bob's claim stays.
        const claimUids = async () => (await kubectl(["get", "pvc", "-n", PER_USER_NS, "-o", "jsonpath={.items[*].metadata.uid}"])).stdout;
        const uidsBefore = await claimUids();
        await s.setConfig({ "copilot-fleet:users": JSON.stringify(["alice", { id: "bob", suspended: true }, "carol"]) });
        const toggled = changeSummary((await up(s)).stdout);
        expect(toggled).toMatchObject({ update: 2 });
        for (const op of ["create", "replace", "delete"]) expect(toggled[op] ?? 0, op).toBe(0);
        const after = await getItems("deployments,pods", PER_USER_NS);
        expect(after.find((i) => i.kind === "Deployment" && i.metadata.name === "copilot-u-bob")?.spec?.replicas).toBe(0);
        const podsAfter = after.filter((i) => i.kind === "Pod" && !(i.metadata as { deletionTimestamp?: string }).deletionTimestamp);
        expect(podsAfter.map((p) => p.metadata.labels?.[LABELS.user]).sort()).toEqual(["alice", "carol"]);
        expect(podsAfter.filter((p) => !podReady(p)).map((p) => p.metadata.name)).toEqual([]);
        expect(await claimUids()).toBe(uidsBefore);

        // The documented way to delete everything: protection off (only the protect flags change), then destroy.
        await s.setConfig({ "copilot-fleet:protectSessionState": "false" });
        const unprotect = changeSummary((await up(s)).stdout);
        for (const op of ["create", "update", "replace", "delete"]) expect(unprotect[op] ?? 0, op).toBe(0);
        await destroy(s);
        expect(await leftovers(PER_USER_NS)).toEqual([]);
    }, 40 * MINUTE);
});
