/**
 * Idle suspend on Kubernetes under mocks: the user Deployments leave `spec.replicas` to the suspender
 * and wakes (ignoreChanges, except for users suspended in config), carry the suspended marker, and the
 * suspender's Deployment, RBAC and NetworkPolicy rules are what docs/operations.md says.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";
import { isKubernetesObject, validateAgainstSchema } from "../../helpers/k8sSchema";
import { SUSPENDED_MARKER as CLIENT_MARKER } from "@copilot-fleet/client";

let rec: MockRecorder;
let suspend: typeof import("../../../components/contract/suspend");
beforeAll(async () => {
    rec = installMocks();
    suspend = await import("../../../components/contract/suspend");
});
beforeEach(() => rec.clear());

const base: RawConfig = {
    platform: "kubernetes",
    mode: "per-user",
    githubToken: "gho_service_token",
    image: "registry.example.com/copilot-cli:1.0.102",
    users: '["alice",{"id":"bob","suspended":true},"carol"]',
    idleSuspendMinutes: "30",
};
const find = (type: string, name: string): RecordedResource => {
    const r = rec.resources.find((x) => x.type === type && x.name === name);
    if (!r) throw new Error(`no ${type} ${name}; have ${rec.resources.map((x) => `${x.type} ${x.name}`).join(", ")}`);
    return r;
};
const inputs = (r: RecordedResource) => r.inputs as Obj;
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

describe("idle suspend on Kubernetes", () => {
    it("uses the same marker the client's wake reads", () => {
        expect(suspend.SUSPENDED_MARKER).toBe(CLIENT_MARKER);
    });

    it("leaves replicas of active users to the suspender, and still forces a config-suspended user off", async () => {
        await deployUnderMocks(base);
        for (const id of ["alice", "carol"]) {
            const d = find(DEPLOYMENT, `copilot-u-${id}`);
            expect(inputs(d).spec.replicas).toBe(1);
            expect(d.opts.ignoreChanges).toEqual(["spec.replicas"]);
            expect(inputs(d).metadata.annotations).toEqual({ [CLIENT_MARKER]: "false", "pulumi.com/patchForce": "true" });
            // Metadata only: the pod template (what a change would roll) carries no marker.
            expect(inputs(d).spec.template.metadata.annotations[CLIENT_MARKER]).toBeUndefined();
        }
        const bob = find(DEPLOYMENT, "copilot-u-bob");
        expect(inputs(bob).spec.replicas).toBe(0);
        expect(bob.opts.ignoreChanges ?? []).toEqual([]);
        expect(inputs(bob).metadata.annotations[CLIENT_MARKER]).toBe("true");
    });

    it("changes nothing about user Deployments without idleSuspendMinutes", async () => {
        const { idleSuspendMinutes: _, ...off } = base;
        await deployUnderMocks(off);
        const d = find(DEPLOYMENT, "copilot-u-alice");
        expect(d.opts.ignoreChanges ?? []).toEqual([]);
        expect(inputs(d).metadata.annotations).toBeUndefined();
        expect(rec.resources.filter((r) => r.name.includes("suspender") || r.name.includes("waker"))).toEqual([]);
    });

    it("grants the suspender and the wakers only the fleet's user Deployments, by name", async () => {
        await deployUnderMocks(base);
        const names = ["copilot-u-alice", "copilot-u-bob", "copilot-u-carol"];
        const role = inputs(find("kubernetes:rbac.authorization.k8s.io/v1:Role", "copilot-idle-suspender"));
        expect(role.rules).toEqual([
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: names },
            { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch", "update"], resourceNames: names },
            { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["copilot-wake-marks"] },
        ]);
        const waker = inputs(find("kubernetes:rbac.authorization.k8s.io/v1:Role", "copilot-waker"));
        expect(waker.rules[2]).toEqual({ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "patch"], resourceNames: ["copilot-wake-marks"] });
        for (const r of [...role.rules, ...waker.rules] as Obj[]) {
            expect(r.resourceNames.length).toBeGreaterThan(0);
            expect(r.verbs).not.toContain("*");
            expect(r.verbs).not.toContain("create");
            expect(r.verbs).not.toContain("delete");
        }
        const binding = inputs(find("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "copilot-idle-suspender"));
        expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "copilot-idle-suspender" });
        expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "copilot-idle-suspender", namespace: "copilot-fleet" }]);
    });

    it("runs the client's suspender code in a pinned Node.js image, restricted, with the tokens only in its Secret", async () => {
        const { resolved } = await deployUnderMocks(base);
        const d = inputs(find(DEPLOYMENT, "copilot-idle-suspender"));
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        expect(c.image).toBe("docker.io/library/node:20.19.5-bookworm-slim");
        expect(c.command).toEqual(["node", "/opt/copilot-fleet/suspender/suspender-main.js"]);
        expect(pod.serviceAccountName).toBe("copilot-idle-suspender");
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
        // The tokens file: readable by the suspender's group, nobody else.
        expect((pod.volumes as Obj[]).find((v) => v.name === "users")).toEqual({ name: "users", secret: { secretName: "copilot-idle-suspender-users", defaultMode: 0o440 } });
        expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } });
        expect(c.resources).toEqual({ requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } });
        expect(c.readinessProbe.exec.command[0]).toBe("node");
        expect(c.livenessProbe.exec.command[2]).toContain("/tmp/suspender-heartbeat");
        const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
        expect(env).toMatchObject({ SUSPENDER_PLATFORM: "kubernetes", SUSPENDER_IDLE_MINUTES: "30", SUSPENDER_INTERVAL_SECONDS: "60", SUSPENDER_WAKE_MARKS: "copilot-wake-marks", SUSPENDER_NAMESPACE: { fieldRef: { fieldPath: "metadata.namespace" } } });
        const code = inputs(find("kubernetes:core/v1:ConfigMap", "copilot-idle-suspender-code"));
        expect(Object.keys(code.data).sort()).toEqual([...suspend.SUSPENDER_FILES].sort());
        expect(code.data["suspender-main.js"]).toContain("SUSPENDER_USERS_FILE");
        const users = JSON.parse(inputs(find("kubernetes:core/v1:Secret", "copilot-idle-suspender-users")).stringData["users.json"]);
        const out = resolved.users as Record<string, { connectionToken: string; server: string }>;
        expect(users.alice).toEqual({ endpoint: "copilot-u-alice.copilot-fleet.svc.cluster.local:4321", connectionToken: out.alice.connectionToken, server: "copilot-u-alice" });
        expect(Object.keys(users).sort()).toEqual(["alice", "bob", "carol"]);
        // A token is in the users Secret and the user's own Secret, never in the suspender's Deployment or ConfigMaps.
        for (const r of rec.resources.filter((x) => x.type === DEPLOYMENT || x.type === "kubernetes:core/v1:ConfigMap")) {
            expect(JSON.stringify(r.inputs).includes(out.alice.connectionToken), r.name).toBe(false);
        }
        expect(resolved.idleSuspend).toEqual({ minutes: 30, wakerRole: "copilot-waker", wakeMarks: "copilot-wake-marks" });
        expect(out.carol.server).toBe("copilot-u-carol");
    });

    it("admits the suspender to every user's server port, and no other user", async () => {
        await deployUnderMocks(base);
        for (const id of ["alice", "carol"]) {
            const np = inputs(find("kubernetes:networking.k8s.io/v1:NetworkPolicy", `copilot-u-${id}`));
            const rule = (np.spec.ingress as Obj[]).find((r) => r.from.some((f: Obj) => f.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "idle-suspender"));
            expect(rule).toEqual({
                from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "copilot-idle-suspender", "app.kubernetes.io/instance": "copilot", "app.kubernetes.io/component": "idle-suspender" } } }],
                ports: [{ protocol: "TCP", port: 4321 }],
            });
        }
        // Its own policy: nothing in; out only to DNS, the API server and the servers' port.
        const own = inputs(find("kubernetes:networking.k8s.io/v1:NetworkPolicy", "copilot-idle-suspender")).spec;
        expect(own.ingress).toBeUndefined();
        expect(own.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(own.egress.slice(1)).toEqual([
            { ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] },
            { to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "copilot-cli", "app.kubernetes.io/instance": "copilot", "app.kubernetes.io/component": "server" } } }], ports: [{ protocol: "TCP", port: 4321 }] },
        ]);
        // The suspender pod is not a server pod: no server policy selects it as one.
        const pod = inputs(find(DEPLOYMENT, "copilot-idle-suspender")).spec.template.metadata.labels;
        expect(pod["app.kubernetes.io/component"]).toBe("idle-suspender");
        expect(pod["copilot-fleet.github.com/user"]).toBeUndefined();
    });

    it("passes every object through the real Kubernetes schema", async () => {
        await deployUnderMocks(base);
        const objects = rec.resources.filter(isKubernetesObject);
        expect(objects.filter((r) => r.name.includes("suspender") || r.name.includes("waker") || r.name.includes("wake-marks")).length).toBe(9);
        for (const r of objects) validateAgainstSchema(r);
    });
});
