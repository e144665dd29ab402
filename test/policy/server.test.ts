import { describe, expect, it } from "vitest";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { connectionToken, imagePinned, noPlainSecrets, nonRoot, probes, resources, sessionStateMount, toolGuard } from "../../policy/server";
import { imagePinProblem } from "../../policy/common";
import { CLI_HOME, COPILOT_HOME, ENV } from "../../components/contract/server";
import {
    aciContainerOf,
    aciOf,
    aciServer,
    containerOf,
    deploymentOf,
    dockerOf,
    dockerServer,
    podOf,
    redisDeployment,
    serverDeployment,
} from "./fixtures";
import { FakeResource, runResourcePolicy, UNKNOWN, withChange } from "./util";

type Expect = "pass" | "fail" | "n/a";
interface Case {
    readonly name: string;
    readonly resource: FakeResource;
    readonly expect: Expect;
    /** A fragment every violation message must contain (proves the message names the fix). */
    readonly says?: RegExp;
}

function table(policy: ResourceValidationPolicy, cases: readonly Case[]): void {
    describe(policy.name, () => {
        it.each(cases.map((c) => [c.name, c] as const))("%s", async (_n, c) => {
            const run = await runResourcePolicy(policy, c.resource);
            expect(run.unknownReads).toEqual([]);
            if (c.expect === "pass") expect(run.violations).toEqual([]);
            if (c.expect === "fail") {
                expect(run.violations.length).toBeGreaterThan(0);
                for (const v of run.violations) expect(v.message).toMatch(c.says ?? /./);
            }
            if (c.expect === "n/a") {
                expect(run.violations).toEqual([]);
                expect(run.notApplicable.length).toBeGreaterThan(0);
            }
        });
    });
}

const dep = serverDeployment();
const dock = dockerServer();
const aci = aciServer();
const envOf = (r: FakeResource) => containerOf(r).env!;

table(connectionToken, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    {
        name: "k8s token missing",
        resource: withChange(dep, (r) => void (containerOf(r).env = envOf(r).filter((e) => e.name !== ENV.connectionToken))),
        expect: "fail",
        says: /has no COPILOT_CONNECTION_TOKEN: add env .*secretKeyRef/,
    },
    {
        name: "k8s token from a ConfigMap",
        resource: withChange(dep, (r) => {
            const e = envOf(r).find((x) => x.name === ENV.connectionToken)!;
            e.valueFrom = { configMapKeyRef: { name: "cm", key: "token" } };
        }),
        expect: "fail",
        says: /without a usable secret value/,
    },
    {
        name: "k8s server identified by command only (no labels) and token missing",
        resource: withChange(dep, (r) => {
            deploymentOf(r).spec!.template.metadata = { labels: { app: "x" } };
            containerOf(r).env = [];
        }),
        expect: "fail",
    },
    { name: "docker token missing", resource: withChange(dock, (r) => void (dockerOf(r).envs = [`${ENV.home}=${COPILOT_HOME}`])), expect: "fail", says: /envs/ },
    { name: "docker token empty", resource: withChange(dock, (r) => void (dockerOf(r).envs = [`${ENV.connectionToken}=`])), expect: "fail" },
    {
        name: "aci token missing",
        resource: withChange(aci, (r) => void (aciContainerOf(r).environmentVariables = [{ name: ENV.home, value: COPILOT_HOME }])),
        expect: "fail",
        says: /secureValue/,
    },
    { name: "redis only: not applicable", resource: redisDeployment(), expect: "n/a" },
]);

table(noPlainSecrets, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    {
        name: "k8s github token as plain value",
        resource: withChange(dep, (r) => void envOf(r).push({ name: "MY_API_KEY", value: "sk-123" })),
        expect: "fail",
        says: /MY_API_KEY as a plain value: use valueFrom.secretKeyRef/,
    },
    {
        name: "k8s token plain value replaces secret ref",
        resource: withChange(dep, (r) => {
            const e = envOf(r).find((x) => x.name === ENV.githubToken)!;
            delete e.valueFrom;
            e.value = "ghp_x";
        }),
        expect: "fail",
    },
    {
        name: "aci token as value instead of secureValue",
        resource: withChange(aci, (r) => void (aciContainerOf(r).environmentVariables = [{ name: ENV.connectionToken, value: "plain" }])),
        expect: "fail",
        says: /use "secureValue"/,
    },
    { name: "docker envs without additionalSecretOutputs", resource: withChange(dock, (r) => void (r.opts = {})), expect: "fail", says: /additionalSecretOutputs/ },
    {
        name: "docker token repeated in command",
        resource: withChange(dock, (r) => void dockerOf(r).command!.push("--token", "t".repeat(48))),
        expect: "fail",
        says: /repeats the value/,
    },
]);

describe("imagePinProblem", () => {
    it.each([
        ["repo@sha256:" + "b".repeat(64), true],
        ["sha256:" + "c".repeat(64), true],
        ["ghcr.io/x/copilot-cli:1.0.102", true],
        ["redis:7.4.2-bookworm", true],
        ["localhost:5000/copilot:v1.2.3", true],
        ["ghcr.io/x/copilot-cli", false],
        ["localhost:5000/copilot", false],
        ["copilot:latest", false],
        ["redis:7", false],
        ["redis:7.4", false],
        ["copilot:stable", false],
        ["repo@sha256:abc", false],
        ["", false],
    ])("%s pinned=%s", (image, pinned) => {
        expect(imagePinProblem(image) === undefined).toBe(pinned);
    });
});

table(imagePinned, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    { name: "redis exact tag", resource: redisDeployment(), expect: "pass" },
    { name: "k8s latest", resource: withChange(dep, (r) => void (containerOf(r).image = "ghcr.io/x/copilot:latest")), expect: "fail", says: /"latest".*Pin it/ },
    { name: "k8s image missing", resource: withChange(dep, (r) => void delete (containerOf(r) as { image?: string }).image), expect: "fail", says: /no image/ },
    { name: "docker bare tag", resource: withChange(dock, (r) => void (dockerOf(r).image = "copilot-cli")), expect: "fail", says: /no tag/ },
    { name: "aci floating tag", resource: withChange(aci, (r) => void (aciContainerOf(r).image = "copilot:1")), expect: "fail", says: /floating tag/ },
]);

table(probes, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    { name: "redis compliant", resource: redisDeployment(), expect: "pass" },
    { name: "k8s readiness missing", resource: withChange(dep, (r) => void delete containerOf(r).readinessProbe), expect: "fail", says: /no readiness check: add readinessProbe/ },
    { name: "k8s liveness without handler", resource: withChange(dep, (r) => void (containerOf(r).livenessProbe = { periodSeconds: 5 })), expect: "fail", says: /liveness/ },
    { name: "redis liveness missing", resource: withChange(redisDeployment(), (r) => void delete containerOf(r).livenessProbe), expect: "fail" },
    { name: "docker healthcheck NONE", resource: withChange(dock, (r) => void (dockerOf(r).healthcheck = { tests: ["NONE"] })), expect: "fail", says: /healthcheck.tests/ },
    { name: "aci readiness missing", resource: withChange(aci, (r) => void delete aciContainerOf(r).readinessProbe), expect: "fail", says: /readinessProbe/ },
]);

table(resources, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    { name: "k8s limits missing", resource: withChange(dep, (r) => void delete containerOf(r).resources!.limits), expect: "fail", says: /resources.limits.cpu, resources.limits.memory/ },
    { name: "k8s memory request empty", resource: withChange(dep, (r) => void (containerOf(r).resources!.requests = { cpu: "1", memory: "" })), expect: "fail", says: /requests.memory/ },
    { name: "docker memory limit missing", resource: withChange(dock, (r) => void delete dockerOf(r).memory), expect: "fail", says: /missing memory:/ },
    { name: "aci limits missing", resource: withChange(aci, (r) => void delete aciContainerOf(r).resources!.limits), expect: "fail", says: /limits.memoryInGB/ },
]);

table(nonRoot, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci standard (no security context)", resource: aci, expect: "pass" },
    { name: "redis compliant", resource: redisDeployment(), expect: "pass" },
    {
        name: "k8s runAsNonRoot missing everywhere",
        resource: withChange(dep, (r) => {
            delete podOf(r).securityContext;
            delete containerOf(r).securityContext!.runAsNonRoot;
        }),
        expect: "fail",
        says: /runAsNonRoot: true/,
    },
    { name: "k8s runAsUser 0", resource: withChange(dep, (r) => void (containerOf(r).securityContext!.runAsUser = 0)), expect: "fail" },
    { name: "k8s escalation allowed", resource: withChange(dep, (r) => void (containerOf(r).securityContext!.allowPrivilegeEscalation = true)), expect: "fail", says: /allowPrivilegeEscalation: false/ },
    { name: "k8s escalation unset", resource: withChange(dep, (r) => void delete containerOf(r).securityContext!.allowPrivilegeEscalation), expect: "fail" },
    { name: "k8s privileged", resource: withChange(dep, (r) => void (containerOf(r).securityContext!.privileged = true)), expect: "fail", says: /privileged: false/ },
    { name: "docker user root", resource: withChange(dock, (r) => void (dockerOf(r).user = "root")), expect: "fail", says: /user: "10001:10001"/ },
    { name: "docker user missing", resource: withChange(dock, (r) => void delete dockerOf(r).user), expect: "fail" },
    { name: "docker no-new-privileges missing", resource: withChange(dock, (r) => void (dockerOf(r).securityOpts = [])), expect: "fail", says: /no-new-privileges/ },
    { name: "aci privileged", resource: withChange(aci, (r) => void (aciContainerOf(r).securityContext = { privileged: true, runAsUser: 10001, allowPrivilegeEscalation: false })), expect: "fail" },
    { name: "aci confidential without context", resource: withChange(aci, (r) => void (aciOf(r).sku = "Confidential")), expect: "fail", says: /runAsUser: 10001/ },
]);

table(sessionStateMount, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    {
        name: "k8s claim at COPILOT_HOME",
        resource: withChange(dep, (r) => void (containerOf(r).volumeMounts = [{ name: "session-state", mountPath: COPILOT_HOME }])),
        expect: "fail",
        says: /database is locked/,
    },
    {
        name: "k8s claim at HOME",
        resource: withChange(dep, (r) => void (containerOf(r).volumeMounts = [{ name: "session-state", mountPath: CLI_HOME }])),
        expect: "fail",
    },
    {
        name: "k8s claim elsewhere",
        resource: withChange(dep, (r) => void containerOf(r).volumeMounts!.push({ name: "session-state", mountPath: "/data" })),
        expect: "fail",
        says: /mount it at .*session-state only/,
    },
    {
        name: "docker named volume at COPILOT_HOME",
        resource: withChange(dock, (r) => void (dockerOf(r).volumes = [{ volumeName: "v", containerPath: COPILOT_HOME }])),
        expect: "fail",
    },
    {
        name: "aci share at COPILOT_HOME",
        resource: withChange(aci, (r) => void (aciContainerOf(r).volumeMounts = [{ name: "session-state", mountPath: COPILOT_HOME }])),
        expect: "fail",
    },
]);

describe("preview semantics", () => {
    it("an image unknown during preview does not stop the probe rule from running", async () => {
        const r = withChange(dep, (x) => void (containerOf(x).image = UNKNOWN as string));
        const probeRun = await runResourcePolicy(probes, r);
        expect(probeRun.unknownReads).toEqual([]);
        expect(probeRun.violations).toEqual([]);
        const imageRun = await runResourcePolicy(imagePinned, r);
        expect(imageRun.unknownReads.length).toBe(1);
    });
});


const bare = ["copilot", "--headless", "--host", "0.0.0.0", "--port", "4321", "--no-auto-update"];
table(toolGuard, [
    { name: "k8s compliant", resource: dep, expect: "pass" },
    { name: "docker compliant", resource: dock, expect: "pass" },
    { name: "aci compliant", resource: aci, expect: "pass" },
    { name: "aci behind tini", resource: withChange(aci, (r) => void (aciContainerOf(r).command = ["/usr/bin/tini", "--", "copilot-fleet-server", ...bare])), expect: "pass" },
    { name: "k8s bare CLI", resource: withChange(dep, (r) => void (containerOf(r).args = bare)), expect: "fail", says: /starts the CLI without copilot-fleet-server: start it with "copilot-fleet-server copilot --headless/ },
    { name: "k8s image default command", resource: withChange(dep, (r) => void delete containerOf(r).args), expect: "fail", says: /runs its image's default command/ },
    { name: "k8s wrapper not right before the CLI", resource: withChange(dep, (r) => void (containerOf(r).args = ["copilot-fleet-server", "env", ...bare])), expect: "fail" },
    { name: "docker bare CLI", resource: withChange(dock, (r) => void (dockerOf(r).command = bare)), expect: "fail", says: /without copilot-fleet-server/ },
    { name: "aci bare CLI behind tini", resource: withChange(aci, (r) => void (aciContainerOf(r).command = ["/usr/bin/tini", "--", ...bare])), expect: "fail" },
    { name: "redis only: not applicable", resource: redisDeployment(), expect: "n/a" },
]);
