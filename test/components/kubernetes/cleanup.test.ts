/**
 * Session cleanup on Kubernetes under mocks: a CronJob in shared mode, a loop-mode sidecar in each
 * per-user pod, both from the one CleanupSpec, schema-checked, and classified right by the policy pack.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { CLI_PORT, HEALTHCHECK_PATH, SESSION_STATE_PATH } from "../../../components/contract/server";
import { buildCleanupSpec, CLEANUP_PATH, CLEANUP_RESOURCES } from "../../../components/contract/cleanup";
import { renderCleanupCronJobSpec } from "../../../components/kubernetes/cleanup";
import { containerViews, workloadOf } from "../../../policy/kubernetes";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { isKubernetesObject, validateAgainstSchema } from "../../helpers/k8sSchema";
import { installMocks, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
beforeAll(() => {
    rec = installMocks();
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const shared: RawConfig = { platform: "kubernetes", githubToken: "gho_service_token", image: IMAGE, replicas: "3" };
const perUser: RawConfig = { platform: "kubernetes", mode: "per-user", githubToken: "gho_service_token", image: IMAGE, users: '["alice","bob"]' };
const CRONJOB = "kubernetes:batch/v1:CronJob";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

const inputsOf = (r: RecordedResource) => r.inputs as Obj;
const argValue = (args: string[], flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
};
/** True when every matchLabels pair of `selector` is on `labels` (how a NetworkPolicy podSelector matches). */
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("shared mode: a CronJob", () => {
    it("runs the in-image tool once per tick against the fleet Service, with the config's TTL and interval", async () => {
        await deployUnderMocks({ ...shared, sessionTtlHours: "48", sessionCleanupIntervalMinutes: "15" });
        const cj = inputsOf(rec.one(CRONJOB, "copilot-session-cleanup"));
        expect(cj.metadata).toMatchObject({ name: "copilot-session-cleanup", namespace: "copilot-fleet" });
        expect(cj.spec).toMatchObject({
            schedule: "*/15 * * * *",
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: expect.any(Number),
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
        });
        const job = cj.spec.jobTemplate.spec;
        expect(job).toMatchObject({ backoffLimit: 1, ttlSecondsAfterFinished: 86400, activeDeadlineSeconds: 450 });
        expect(cj.spec.startingDeadlineSeconds).toBeLessThanOrEqual(15 * 60);
        const pod = job.template.spec;
        expect(pod).toMatchObject({ restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false });
        expect(pod.containers).toHaveLength(1);
        const c = pod.containers[0];
        // Same image (and so the same digest) as the servers.
        const server = inputsOf(rec.one(DEPLOYMENT, "copilot")).spec.template.spec.containers[0];
        expect(c.image).toBe(server.image);
        expect(c.args).toEqual([CLEANUP_PATH, "--endpoint", `copilot:${CLI_PORT}`, "--ttl-hours", "48", "--state-dir", SESSION_STATE_PATH, "--timeout-ms", "30000"]);
        expect(c.command).toBeUndefined();
        // The token only by reference to the fleet's Secret, never in argv or a plain value.
        expect(c.env).toEqual([{ name: "COPILOT_CONNECTION_TOKEN", valueFrom: { secretKeyRef: { name: "copilot-credentials", key: "connection-token" } } }]);
        expect(c.resources).toEqual({
            requests: { cpu: CLEANUP_RESOURCES.cpuRequest, memory: CLEANUP_RESOURCES.memoryRequest },
            limits: { cpu: CLEANUP_RESOURCES.cpuLimit, memory: CLEANUP_RESOURCES.memoryLimit },
        });
        expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(c.readinessProbe.exec.command).toEqual([HEALTHCHECK_PATH, "--host", "copilot", "--port", String(CLI_PORT)]);
        // The fleet's RWX claim at the session-state path, and nothing else.
        expect(c.volumeMounts).toEqual([{ name: "session-state", mountPath: SESSION_STATE_PATH }]);
        expect(pod.volumes).toEqual([{ name: "session-state", persistentVolumeClaim: { claimName: "copilot-session-state" } }]);
    });

    it("defaults to hourly with the 24 h TTL", async () => {
        await deployUnderMocks(shared);
        const cj = inputsOf(rec.one(CRONJOB, "copilot-session-cleanup"));
        expect(cj.spec.schedule).toBe("7 * * * *");
        expect(argValue(cj.spec.jobTemplate.spec.template.spec.containers[0].args, "--ttl-hours")).toBe("24");
    });

    it("carries the client label the servers' NetworkPolicy admits", async () => {
        await deployUnderMocks(shared);
        const labels = inputsOf(rec.one(CRONJOB, "copilot-session-cleanup")).spec.jobTemplate.spec.template.metadata.labels;
        const np = inputsOf(rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "copilot-server"));
        const admitted = (np.spec.ingress as Obj[]).some((rule) => (rule.from as Obj[]).some((f) => f.podSelector && matches(f.podSelector.matchLabels, labels)));
        expect(admitted).toBe(true);
        // …and is not itself selected as a server pod (it must not inherit the servers' ingress rules or PDB).
        expect(matches(np.spec.podSelector.matchLabels, labels)).toBe(false);
    });

    it("passes the Kubernetes schema and is not mistaken for a server by the policy pack", async () => {
        await deployUnderMocks(shared);
        const r = rec.one(CRONJOB, "copilot-session-cleanup");
        validateAgainstSchema(r);
        const w = workloadOf(r.type, r.name, r.inputs);
        expect(w).toBeDefined();
        const views = containerViews(w!);
        expect(views.map((v) => v.isServer())).toEqual([false]);
        expect(views[0].probes()).toEqual({ readiness: true, liveness: true });
    });

    it("a CronJob refuses a loop-mode spec", () => {
        const loop = buildCleanupSpec({ endpoint: "copilot:4321", ttlHours: 24, mode: "loop" });
        expect(() => renderCleanupCronJobSpec(loop, IMAGE, "s", "c", {})).toThrow('a CronJob runs the cleanup once per tick; got a "loop" spec');
    });
});

describe("per-user mode: a loop-mode sidecar in each user's pod", () => {
    it("adds the sidecar beside the CLI, dialing its own pod, with the user's Secret and claim; no CronJob", async () => {
        await deployUnderMocks({ ...perUser, sessionCleanupIntervalMinutes: "30" });
        expect(rec.ofType(CRONJOB)).toEqual([]);
        for (const user of ["alice", "bob"]) {
            const pod = inputsOf(rec.one(DEPLOYMENT, `copilot-u-${user}`)).spec.template.spec;
            expect(pod.containers.map((c: Obj) => c.name)).toEqual(["copilot", "session-cleanup"]);
            const side = pod.containers[1];
            expect(side.image).toBe(pod.containers[0].image);
            expect(side.args).toEqual([
                CLEANUP_PATH, "--endpoint", `127.0.0.1:${CLI_PORT}`, "--ttl-hours", "24", "--state-dir", SESSION_STATE_PATH, "--timeout-ms", "30000", "--interval", "1800",
            ]);
            expect(side.env).toEqual([{ name: "COPILOT_CONNECTION_TOKEN", valueFrom: { secretKeyRef: { name: `copilot-u-${user}-credentials`, key: "connection-token" } } }]);
            expect(side.volumeMounts).toEqual([{ name: "session-state", mountPath: SESSION_STATE_PATH }]);
            const vol = (pod.volumes as Obj[]).find((v) => v.name === "session-state");
            expect(vol?.persistentVolumeClaim.claimName).toBe(`copilot-u-${user}-state`);
        }
    });

    it("passes the Kubernetes schema; the policy pack sees one server and one non-server per pod", async () => {
        await deployUnderMocks(perUser);
        const objects = rec.resources.filter(isKubernetesObject);
        for (const r of objects) validateAgainstSchema(r);
        const d = rec.one(DEPLOYMENT, "copilot-u-alice");
        const views = containerViews(workloadOf(d.type, d.name, d.inputs)!);
        expect(views.map((v) => [v.where, v.isServer()])).toEqual([
            ['container "copilot" of Deployment "copilot-u-alice"', true],
            ['container "session-cleanup" of Deployment "copilot-u-alice"', false],
        ]);
    });
});
