/**
 * The kubernetes platform through the real engine against a real API server (issue 12): a local
 * control plane (scripts/kube-local.sh: kube-apiserver v1.34.4 on etcd, kube-controller-manager,
 * kube-scheduler and our simulated kubelet, which reports bound pods Running and Ready without
 * running them), `pulumi up` of a shared and a per-user stack through the kubernetes plugin, checks
 * with kubectl of what the API server holds, a second preview that must plan no change, and
 * `pulumi destroy` that must leave nothing behind. A third stack runs idle suspend: no suspender
 * container runs, so the test acts as the suspender with its own control code (kubernetesControl)
 * and its own credentials (a TokenRequest token for its ServiceAccount), and as a backend's waker.
 *
 * What this proves: every object the program renders is accepted by the API server and its
 * admission (Pod Security `restricted` enforced on both namespaces), the controllers turn the
 * Deployments into admitted pods, the provider's awaits (Deployment rollout, Service endpoints,
 * PVC binding) finish, and the diffs settle. What it does not: that the containers run (the
 * kubelet runs nothing), NetworkPolicy enforcement (no CNI) or LoadBalancer addresses.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, run, RunResult } from "../helpers/containers";
import { ControlError, ensureRunning, kubernetesControl, WakeRefusedError } from "@copilot-fleet/client";
import { SUSPENDED_MARKER } from "../../components/contract/suspend";
import { PATCH_FORCE_ANNOTATION } from "../../components/kubernetes/perUserFleet";
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
    // Three users in each per-user stack; a released volume (Retain) binds no new claim, so each stack gets its own three.
    for (let i = 0; i < 6; i++) docs.push(volume(`user-rwo-${i}`, "ReadWriteOnce"));
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

/** A Deployment as the API server returns it, with what the idle-suspend test reads. */
interface LiveDeployment {
    metadata: { name: string; uid: string; annotations?: Record<string, string>; managedFields?: { manager: string; operation: string; subresource?: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }[] };
    spec: {
        replicas: number;
        template: {
            spec: {
                serviceAccountName?: string;
                automountServiceAccountToken?: boolean;
                securityContext?: Record<string, unknown>;
                containers: { name: string; image: string; env?: { name: string; value?: string; valueFrom?: unknown }[] }[];
                volumes?: { name: string; secret?: { secretName: string; defaultMode?: number } }[];
            };
        };
    };
}

async function deployment(name: string): Promise<LiveDeployment> {
    return JSON.parse((await kubectl(["get", "deployment", name, "-n", PER_USER_NS, "-o", "json", "--show-managed-fields"])).stdout) as LiveDeployment;
}

/** The field managers that own a Deployment's spec.replicas (managedFields), sorted. */
function replicasOwners(d: LiveDeployment): string[] {
    return (d.metadata.managedFields ?? [])
        .filter((f) => f.fieldsV1?.["f:spec"]?.["f:replicas"] !== undefined)
        .map((f) => `${f.manager}${f.subresource ? `/${f.subresource}` : ""}`)
        .sort();
}

/** The API server's URL and CA, from kube-local's kubeconfig (what a control outside the cluster is given). */
async function apiEndpoint(): Promise<{ server: URL; ca: Buffer }> {
    const view = JSON.parse((await kubectl(["config", "view", "--raw", "-o", "json"])).stdout) as { clusters: { cluster: { server: string; "certificate-authority-data": string } }[] };
    const c = view.clusters[0].cluster;
    return { server: new URL(c.server), ca: Buffer.from(c["certificate-authority-data"], "base64") };
}

/** One real API call as `token`; resolves with the HTTP status (the body is not read: it may be a Secret). */
function apiStatus(api: { server: URL; ca: Buffer }, token: string, method: string, p: string, body?: unknown): Promise<number> {
    return new Promise((resolve, reject) => {
        const type = method === "PATCH" ? "application/merge-patch+json" : "application/json";
        const req = https.request(
            { host: api.server.hostname, port: api.server.port, method, path: p, ca: api.ca, headers: { Authorization: `Bearer ${token}`, Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": type }) } },
            (res) => {
                res.resume();
                res.on("end", () => resolve(res.statusCode ?? 0));
            },
        );
        req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${p}: no answer in 15 s`)));
        req.on("error", reject);
        if (body !== undefined) req.write(JSON.stringify(body));
        req.end();
    });
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

    it("per-user fleet with idleSuspendMinutes: suspender RBAC as rendered; the suspender's own token scales a user to 0 and can do nothing else; up after the suspend, a waker's wake and an image roll keep replicas as the controls left them; suspended: true forces off and refuses wakes; destroy leaves nothing", async () => {
        const users = ["alice", "bob", "carol"];
        const userDeployments = users.map((u) => `copilot-u-${u}`);
        const NS = PER_USER_NS;
        const config = {
            "copilot-fleet:platform": "kubernetes",
            "copilot-fleet:mode": "per-user",
            "copilot-fleet:users": JSON.stringify(users),
            "copilot-fleet:image": IMAGE,
            "copilot-fleet:credentials": "perSession",
            "copilot-fleet:namespace": NS,
            "copilot-fleet:createNamespace": "false",
            "copilot-fleet:storageClass": STORAGE_CLASS,
            "copilot-fleet:idleSuspendMinutes": "5",
        };
        const s = stack("kube-idle", config);
        await s.create();
        await up(s);

        // 1. What the API server holds.
        const idle = (await s.outputs()).idleSuspend as { minutes: number; wakerRole: string; wakeMarks: string };
        expect(idle).toEqual({ minutes: 5, wakerRole: "copilot-waker", wakeMarks: "copilot-wake-marks" });
        const items = await getItems("deployments,pods,serviceaccounts,roles,rolebindings,configmaps,secrets,networkpolicies", NS);
        expect(names(items, "Deployment")).toEqual(["copilot-idle-suspender", ...userDeployments].sort());
        expect(names(items, "ServiceAccount")).toEqual(["copilot-idle-suspender", "default"]);
        expect(names(items, "Role")).toEqual(["copilot-idle-suspender", "copilot-waker"]);
        expect(names(items, "RoleBinding")).toEqual(["copilot-idle-suspender"]);
        expect(names(items, "ConfigMap")).toEqual(["copilot-idle-suspender-code", "copilot-wake-marks", "kube-root-ca.crt"]);
        expect(names(items, "NetworkPolicy")).toEqual(["copilot-default-deny", "copilot-idle-suspender", ...userDeployments]);
        expect(names(items, "Secret")).toEqual(["copilot-idle-suspender-users", ...users.map((u) => `copilot-u-${u}-credentials`)]);
        const obj = (kind: string, name: string) => items.find((i) => i.kind === kind && i.metadata.name === name) as unknown as Record<string, unknown>;
        expect(obj("ServiceAccount", "copilot-idle-suspender").automountServiceAccountToken).toBe(false);
        const rules = (wakeMarkVerbs: string[]) => [
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: userDeployments },
            { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch", "update"], resourceNames: userDeployments },
            { apiGroups: [""], resources: ["configmaps"], verbs: wakeMarkVerbs, resourceNames: ["copilot-wake-marks"] },
        ];
        expect(obj("Role", "copilot-idle-suspender").rules).toEqual(rules(["get"]));
        expect(obj("Role", "copilot-waker").rules).toEqual(rules(["get", "patch"]));
        expect(obj("RoleBinding", "copilot-idle-suspender")).toMatchObject({
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "copilot-idle-suspender" },
            subjects: [{ kind: "ServiceAccount", name: "copilot-idle-suspender", namespace: NS }],
        });
        // Pulumi writes no wake marks: only wakes do.
        expect(obj("ConfigMap", "copilot-wake-marks").data).toBeUndefined();

        const suspenderDeployment = await deployment("copilot-idle-suspender");
        const pod = suspenderDeployment.spec.template.spec;
        expect(pod.serviceAccountName).toBe("copilot-idle-suspender");
        expect(pod.automountServiceAccountToken).toBe(true);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
        expect(pod.volumes?.find((v) => v.name === "users")?.secret).toEqual({ secretName: "copilot-idle-suspender-users", defaultMode: 0o440 });
        const env = Object.fromEntries((pod.containers[0].env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
        expect(env).toMatchObject({ SUSPENDER_PLATFORM: "kubernetes", SUSPENDER_IDLE_MINUTES: "5", SUSPENDER_WAKE_MARKS: "copilot-wake-marks", SUSPENDER_NAMESPACE: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } } });
        // Admitted under `restricted`, Ready (simulated), and the ServiceAccount token projected into it.
        const suspenderPods = items.filter((i) => i.kind === "Pod" && i.metadata.labels?.[LABELS.component] === "idle-suspender");
        expect(suspenderPods).toHaveLength(1);
        expect(podReady(suspenderPods[0])).toBe(true);
        const podVolumes = (suspenderPods[0].spec?.volumes ?? []) as { projected?: { sources: { serviceAccountToken?: unknown }[] } }[];
        expect(podVolumes.some((v) => v.projected?.sources.some((src) => src.serviceAccountToken !== undefined))).toBe(true);
        // What the suspender reads: per user, the in-cluster address, that user's token and Deployment.
        const usersSecret = obj("Secret", "copilot-idle-suspender-users") as { data: Record<string, string> };
        const usersFile = JSON.parse(Buffer.from(usersSecret.data["users.json"], "base64").toString("utf8")) as Record<string, { endpoint: string; connectionToken: string; server: string }>;
        expect(Object.keys(usersFile).sort()).toEqual(users);
        for (const u of users) {
            expect(usersFile[u]).toMatchObject({ endpoint: `copilot-u-${u}.${NS}.svc.cluster.local:4321`, server: `copilot-u-${u}` });
            expect(usersFile[u].connectionToken.length).toBeGreaterThan(20);
        }
        const uids: Record<string, string> = {};
        const pulumiManager: Record<string, string> = {};
        for (const u of users) {
            const d = await deployment(`copilot-u-${u}`);
            expect(d.metadata.annotations?.[SUSPENDED_MARKER], u).toBe("false");
            expect(d.metadata.annotations?.[PATCH_FORCE_ANNOTATION], u).toBe("true");
            expect(d.spec.replicas, u).toBe(1);
            uids[u] = d.metadata.uid;
            // Pulumi's server-side apply set replicas on create: that resource's field manager owns the field.
            const owners = replicasOwners(d);
            expect(owners, u).toHaveLength(1);
            expect(owners[0], u).toMatch(/^pulumi-kubernetes/);
            pulumiManager[u] = owners[0];
        }

        // 2. The suspender's own credentials (TokenRequest for its ServiceAccount) and its own control code.
        const api = await apiEndpoint();
        const tokenFor = async (sa: string) => (await kubectl(["create", "token", sa, "-n", NS, "--duration", "1h"])).stdout.trim();
        const suspenderToken = await tokenFor("copilot-idle-suspender");
        // As suspender-main builds it, but with the API server's address and CA given (no in-cluster files here).
        const controlAs = (token: string, deploymentName = (u: string) => usersFile[u].server) =>
            kubernetesControl({ namespace: NS, deploymentName, wakeMarks: env.SUSPENDER_WAKE_MARKS as string, apiServer: api.server.toString(), ca: api.ca, token: () => token });
        const suspender = controlAs(suspenderToken);
        expect(await suspender.state("alice")).toEqual({ running: true, suspendedInConfig: false });
        await suspender.stop("alice");
        await suspender.stop("carol");
        expect(await suspender.state("alice")).toEqual({ running: false, suspendedInConfig: false });
        const alice = await deployment("copilot-u-alice");
        expect(alice.spec.replicas).toBe(0);
        // The scale took the field from Pulumi's manager; and since the Scale object omits a replicas of 0,
        // the API server records no owner for it at all (v1.34.4, measured here).
        expect(replicasOwners(alice)).toEqual([]);

        // Least privilege, same token, real calls: only 403s (RBAC answers before the object is looked up, so a name not in the fleet is 403 too).
        const apps = `/apis/apps/v1/namespaces/${NS}`;
        const core = `/api/v1/namespaces/${NS}`;
        const podBody = { apiVersion: "v1", kind: "Pod", metadata: { name: "probe" }, spec: { containers: [{ name: "probe", image: IMAGE }] } };
        const denied: [string, string, unknown?][] = [
            ["PATCH", `${apps}/deployments/copilot-u-alice`, { spec: { template: { spec: { containers: [{ name: "copilot", image: "registry.invalid/other:1" }] } } } }],
            ["PATCH", `${apps}/deployments/copilot-u-alice`, { metadata: { annotations: { [SUSPENDED_MARKER]: "true" } } }],
            ["DELETE", `${apps}/deployments/copilot-u-alice`],
            ["GET", `${apps}/deployments`],
            ["GET", `${apps}/deployments/copilot-idle-suspender`],
            ["PATCH", `${apps}/deployments/copilot-idle-suspender/scale`, { spec: { replicas: 0 } }],
            ["PATCH", `${apps}/deployments/copilot-u-mallory/scale`, { spec: { replicas: 1 } }],
            ["GET", `${core}/secrets`],
            ["GET", `${core}/secrets/copilot-idle-suspender-users`],
            ["GET", `${core}/secrets/copilot-u-alice-credentials`],
            ["PATCH", `${core}/configmaps/copilot-wake-marks`, { data: { alice: new Date().toISOString() } }],
            ["PATCH", `${core}/configmaps/copilot-idle-suspender-code`, { data: { "x.js": "" } }],
            ["POST", `${core}/pods`, podBody],
        ];
        const statuses = async (token: string, calls: [string, string, unknown?][]) =>
            Object.fromEntries(await Promise.all(calls.map(async ([m, p, b]) => [`${m} ${p}`, await apiStatus(api, token, m, p, b)] as const)));
        const all403 = (calls: [string, string, unknown?][]) => Object.fromEntries(calls.map(([m, p]) => [`${m} ${p}`, 403]));
        expect(await statuses(suspenderToken, denied)).toEqual(all403(denied));
        // The helper is not what refuses: the same token reads alice's Deployment through it.
        expect(await apiStatus(api, suspenderToken, "GET", `${apps}/deployments/copilot-u-alice`)).toBe(200);
        // And through the suspender's own code: its control cannot scale its own Deployment.
        const self = await controlAs(suspenderToken, () => "copilot-idle-suspender").stop("self").then(() => undefined, (e: unknown) => e);
        expect(self).toBeInstanceOf(ControlError);
        expect((self as ControlError).status).toBe(403);
        expect((await deployment("copilot-idle-suspender")).spec.replicas).toBe(1);

        // 3. pulumi up after an automatic suspend leaves that user's server as the suspender left it.
        await expectNoChanges(s);
        const again = await up(s);
        const counts = changeSummary(again.stdout);
        for (const op of ["create", "update", "replace", "delete"]) expect(counts[op] ?? 0, op).toBe(0);
        for (const u of ["alice", "carol"]) {
            const d = await deployment(`copilot-u-${u}`);
            expect(d.spec.replicas, u).toBe(0);
            expect(d.metadata.uid, u).toBe(uids[u]);
        }

        // 4. A backend's wake: its own ServiceAccount bound to the waker Role (outside Pulumi, as the docs say).
        await kubectl(["create", "serviceaccount", "test-backend", "-n", NS]);
        await kubectl(["create", "rolebinding", "test-backend-waker", "-n", NS, "--role", idle.wakerRole, "--serviceaccount", `${NS}:test-backend`]);
        const wakerToken = await tokenFor("test-backend");
        const waker = controlAs(wakerToken);
        // The authorizer's cache takes the new binding within moments.
        for (let i = 0; i < 40 && (await apiStatus(api, wakerToken, "GET", `${apps}/deployments/copilot-u-alice`)) !== 200; i++) await new Promise((r) => setTimeout(r, 250));
        const before = Date.now();
        await waker.touch?.("alice");
        await waker.start("alice");
        const woken = await waker.state("alice");
        expect(woken.running).toBe(true);
        expect(woken.wantedAtMs).toBeGreaterThanOrEqual(before - 1000);
        expect(woken.wantedAtMs).toBeLessThanOrEqual(Date.now() + 1000);
        expect((await deployment("copilot-u-alice")).spec.replicas).toBe(1);
        const marks = JSON.parse((await kubectl(["get", "configmap", idle.wakeMarks, "-n", NS, "-o", "jsonpath={.data}"])).stdout) as Record<string, string>;
        expect(Object.keys(marks)).toEqual(["alice"]);
        // The waker too: scale and mark, nothing else.
        const wakerDenied: [string, string, unknown?][] = [
            ["PATCH", `${apps}/deployments/copilot-u-alice`, { metadata: { annotations: { [SUSPENDED_MARKER]: "false" } } }],
            ["PATCH", `${apps}/deployments/copilot-idle-suspender/scale`, { spec: { replicas: 0 } }],
            ["GET", `${core}/secrets/copilot-u-alice-credentials`],
            ["PATCH", `${core}/configmaps/copilot-idle-suspender-code`, { data: { "x.js": "" } }],
        ];
        expect(await statuses(wakerToken, wakerDenied)).toEqual(all403(wakerDenied));
        const afterWake = changeSummary((await up(s)).stdout);
        for (const op of ["create", "update", "replace", "delete"]) expect(afterWake[op] ?? 0, op).toBe(0);
        expect((await deployment("copilot-u-alice")).spec.replicas).toBe(1);

        // 5. A new image rolls every user's Deployment while the controls hold replicas (alice woken, bob
        // and carol suspended by the suspender): the apply leaves each at what is live.
        await suspender.stop("bob");
        const live = async () => {
            const out: Record<string, LiveDeployment> = {};
            for (const u of users) out[u] = await deployment(`copilot-u-${u}`);
            return out;
        };
        const replicasOf = (d: Record<string, LiveDeployment>) => Object.fromEntries(users.map((u) => [u, d[u].spec.replicas]));
        const ownersOf = (d: Record<string, LiveDeployment>) => Object.fromEntries(users.map((u) => [u, replicasOwners(d[u])]));
        // Scales from an unowned 0 record no owner either (measured): nobody owns any user's replicas now.
        expect(ownersOf(await live())).toEqual({ alice: [], bob: [], carol: [] });
        const rolled = async (image: string, expectedReplicas: Record<string, number>) => {
            const r = changeSummary((await up(s)).stdout);
            expect(r.update).toBe(3);
            for (const op of ["create", "replace", "delete"]) expect(r[op] ?? 0, op).toBe(0);
            const d = await live();
            expect(replicasOf(d)).toEqual(expectedReplicas);
            expect(Object.fromEntries(users.map((u) => [u, d[u].metadata.uid]))).toEqual(uids);
            for (const u of users) expect(d[u].spec.template.spec.containers.find((c) => c.name === "copilot")?.image, u).toBe(image);
            return d;
        };
        await s.setConfig({ "copilot-fleet:image": `${IMAGE}-r2` });
        const roll = await rolled(`${IMAGE}-r2`, { alice: 1, bob: 0, carol: 0 });
        // An ignored field nobody owns is sent as it is live (the provider's rule): Pulumi's manager owns it again, at the live value.
        expect(ownersOf(roll)).toEqual({ alice: [pulumiManager.alice], bob: [pulumiManager.bob], carol: [pulumiManager.carol] });

        // 6. Config suspension forces off. The waker wakes bob and carol: from Pulumi's 0 the scale takes
        // the field, so bob's replicas (1) are the controls', and taking them back needs patchForce. In the
        // same up a second image rolls alice (Pulumi's 1) and carol (the controls' 1, left out of the apply).
        await waker.start("bob");
        await waker.start("carol");
        expect(ownersOf(await live())).toEqual({ alice: [pulumiManager.alice], bob: ["copilot-fleet-suspender/scale"], carol: ["copilot-fleet-suspender/scale"] });
        // Without the force, Pulumi's apply of bob's 0 would be refused: the field is another manager's at another value.
        const probe = path.join(stateDir, "bob-replicas.json");
        writeFileSync(probe, JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "copilot-u-bob", namespace: NS }, spec: { replicas: 0 } }));
        const unforced = await kubectl(["apply", "--server-side", "--dry-run=server", "--field-manager", pulumiManager.bob, "-f", probe], false);
        expect(unforced.code).not.toBe(0);
        expect(unforced.stderr).toMatch(/conflict with "copilot-fleet-suspender".*\.spec\.replicas/s);
        await s.setConfig({ "copilot-fleet:users": JSON.stringify(["alice", { id: "bob", suspended: true }, "carol"]), "copilot-fleet:image": `${IMAGE}-r3` });
        const after = await rolled(`${IMAGE}-r3`, { alice: 1, bob: 0, carol: 1 });
        expect(Object.fromEntries(users.map((u) => [u, after[u].metadata.annotations?.[SUSPENDED_MARKER]]))).toEqual({ alice: "false", bob: "true", carol: "false" });
        expect(ownersOf(after)).toEqual({ alice: [pulumiManager.alice], bob: [pulumiManager.bob], carol: ["copilot-fleet-suspender/scale"] });
        // The waker (with its own token) refuses bob, and bob stays off.
        const refused = await ensureRunning("bob", { control: waker, endpoint: usersFile.bob.endpoint, connectionToken: usersFile.bob.connectionToken, timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
        expect(refused).toBeInstanceOf(WakeRefusedError);
        expect((refused as Error).message).toMatch(/suspended: true/);
        expect(await waker.state("bob")).toMatchObject({ running: false, suspendedInConfig: true });
        // The roll settled: nothing left to change.
        await expectNoChanges(s);

        // Destroy: the backend's binding first (ours, not the stack's), then protection off and destroy.
        await kubectl(["delete", "rolebinding", "test-backend-waker", "-n", NS]);
        await kubectl(["delete", "serviceaccount", "test-backend", "-n", NS]);
        await s.setConfig({ "copilot-fleet:protectSessionState": "false" });
        const unprotect = changeSummary((await up(s)).stdout);
        for (const op of ["create", "update", "replace", "delete"]) expect(unprotect[op] ?? 0, op).toBe(0);
        await destroy(s);
        expect(await leftovers(NS)).toEqual([]);
    }, 40 * MINUTE);
});
