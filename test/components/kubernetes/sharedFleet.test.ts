import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../../components/config";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MOCK_IMAGE_DIGEST, MOCK_LB_IP, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";
import { isKubernetesObject, validateAgainstSchema } from "../../helpers/k8sSchema";

let rec: MockRecorder;
let pulumiMod: typeof pulumi;

beforeAll(async () => {
    rec = installMocks();
    pulumiMod = await import("@pulumi/pulumi");
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const base: RawConfig = { platform: "kubernetes", githubToken: "gho_service_token", image: IMAGE, replicas: "3" };

const run = deployUnderMocks;

const inputsOf = (r: RecordedResource) => r.inputs as Obj;
const podSpec = (d: RecordedResource) => inputsOf(d).spec.template.spec as Obj;
const container = (d: RecordedResource) => podSpec(d).containers[0] as Obj;

describe("shared fleet on Kubernetes (replicas=3)", () => {
    it("registers exactly the documented resource set", async () => {
        await run(base);
        const set = rec.resources.map((r) => `${r.type} ${r.name}`).sort();
        expect(set).toEqual(
            [
                "copilot-fleet:index:Redis copilot-redis",
                "copilot-fleet:index:SessionCleanup copilot-session-cleanup",
                "copilot-fleet:index:SharedFleet copilot",
                "kubernetes:apps/v1:Deployment copilot",
                "kubernetes:apps/v1:Deployment copilot-redis",
                "kubernetes:batch/v1:CronJob copilot-session-cleanup",
                "kubernetes:core/v1:Namespace copilot-fleet",
                "kubernetes:core/v1:PersistentVolumeClaim copilot-session-state",
                "kubernetes:core/v1:Secret copilot-credentials",
                "kubernetes:core/v1:Secret copilot-redis-config",
                "kubernetes:core/v1:Service copilot",
                "kubernetes:core/v1:Service copilot-pods",
                "kubernetes:core/v1:Service copilot-redis",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy copilot-redis",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy copilot-server",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy copilot-session-cleanup",
                "kubernetes:policy/v1:PodDisruptionBudget copilot",
                "random:index/randomPassword:RandomPassword copilot-connection-token",
                "random:index/randomPassword:RandomPassword copilot-redis-password",
            ].sort(),
        );
    });

    it("passes every Kubernetes object through the real Kubernetes schema", async () => {
        await run({ ...base, exposure: "public", allowedCidrs: '["203.0.113.0/24"]' });
        const objects = rec.resources.filter(isKubernetesObject);
        expect(objects.length).toBeGreaterThanOrEqual(12);
        for (const r of objects) validateAgainstSchema(r);
    });

    it("runs N replicas of the CLI server spec, spread across nodes, non-root and locked down", async () => {
        await run(base);
        const d = rec.one("kubernetes:apps/v1:Deployment", "copilot");
        const spec = inputsOf(d).spec;
        expect(spec.replicas).toBe(3);
        expect(spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
        const pod = podSpec(d);
        expect(pod.topologySpreadConstraints.map((t: Obj) => t.topologyKey)).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } });
        const c = container(d);
        expect(c.image).toBe(IMAGE);
        expect(c.args).toEqual(["copilot-fleet-server", "copilot", "--headless", "--host", "0.0.0.0", "--port", "4321", "--no-auto-update"]);
        expect(c.command).toBeUndefined();
        expect(c.ports).toEqual([{ name: "jsonrpc", containerPort: 4321, protocol: "TCP" }]);
        expect(c.securityContext).toMatchObject({
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        });
        expect(c.resources).toEqual({ requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } });
    });

    it("probes with the in-image JSON-RPC health check, and drains before SIGTERM", async () => {
        await run(base);
        const d = rec.one("kubernetes:apps/v1:Deployment", "copilot");
        const c = container(d);
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
            expect(c[probe].exec.command).toEqual(["/usr/local/bin/copilot-healthcheck"]);
        }
        expect(c.lifecycle.preStop.exec.command).toEqual(["sleep", "30"]);
        expect(podSpec(d).terminationGracePeriodSeconds).toBe(45);
    });

    it("keeps every token in the Secret and references it; nothing sensitive in plain env", async () => {
        await run(base);
        const secret = rec.one("kubernetes:core/v1:Secret", "copilot-credentials");
        const token = rec.one("random:index/randomPassword:RandomPassword", "copilot-connection-token").state.result;
        expect(inputsOf(secret).stringData).toEqual({ "connection-token": token, "github-token": "gho_service_token" });
        const env = container(rec.one("kubernetes:apps/v1:Deployment", "copilot")).env as Obj[];
        expect(env.filter((e) => e.value !== undefined)).toEqual([
            { name: "COPILOT_HOME", value: "/home/copilot/.copilot" },
            { name: "HOME", value: "/home/copilot" },
        ]);
        expect(env.filter((e) => e.valueFrom)).toEqual([
            { name: "COPILOT_CONNECTION_TOKEN", valueFrom: { secretKeyRef: { name: "copilot-credentials", key: "connection-token" } } },
            { name: "COPILOT_GITHUB_TOKEN", valueFrom: { secretKeyRef: { name: "copilot-credentials", key: "github-token" } } },
        ]);
        for (const r of rec.resources) {
            if (r.type === "kubernetes:core/v1:Secret" || r.type.startsWith("random:")) continue;
            expect(JSON.stringify(r.inputs), `${r.type} ${r.name}`).not.toContain("gho_service_token");
            expect(JSON.stringify(r.inputs), `${r.type} ${r.name}`).not.toContain(token as string);
        }
    });

    it("with BYOK holds no model credential on the servers", async () => {
        await run({ platform: "kubernetes", image: IMAGE, provider: JSON.stringify({ baseUrl: "https://m.example.com/v1", model: "gpt-4.1", apiKey: "sk-secret" }) });
        const secret = rec.one("kubernetes:core/v1:Secret", "copilot-credentials");
        expect(Object.keys(inputsOf(secret).stringData)).toEqual(["connection-token"]);
        const env = container(rec.one("kubernetes:apps/v1:Deployment", "copilot")).env as Obj[];
        expect(env.map((e) => e.name)).not.toContain("COPILOT_GITHUB_TOKEN");
        for (const r of rec.resources) expect(JSON.stringify(r.inputs)).not.toContain("sk-secret");
    });

    it("mounts the ReadWriteMany claim only at the session-state path; the rest of COPILOT_HOME is local disk", async () => {
        await run({ ...base, storageClass: "azurefile-csi-premium", storageSize: "50Gi" });
        const pvc = rec.one("kubernetes:core/v1:PersistentVolumeClaim", "copilot-session-state");
        expect(inputsOf(pvc).spec).toEqual({ accessModes: ["ReadWriteMany"], storageClassName: "azurefile-csi-premium", resources: { requests: { storage: "50Gi" } } });
        const d = rec.one("kubernetes:apps/v1:Deployment", "copilot");
        const volumes = podSpec(d).volumes as Obj[];
        const claimVolumes = volumes.filter((v) => v.persistentVolumeClaim);
        expect(claimVolumes).toEqual([{ name: "session-state", persistentVolumeClaim: { claimName: "copilot-session-state" } }]);
        const mounts = container(d).volumeMounts as Obj[];
        expect(mounts.filter((m) => m.name === "session-state")).toEqual([{ name: "session-state", mountPath: "/home/copilot/.copilot/session-state" }]);
        const home = mounts.find((m) => m.mountPath === "/home/copilot/.copilot");
        expect(volumes.find((v) => v.name === home?.name)?.emptyDir).toBeDefined();
    });

    it("cluster exposure: ClusterIP Service, headless Service, in-cluster endpoint", async () => {
        const { resolved } = await run(base);
        const svc = inputsOf(rec.one("kubernetes:core/v1:Service", "copilot"));
        expect(svc.spec).toMatchObject({ type: "ClusterIP", sessionAffinity: "None", ports: [{ port: 4321, targetPort: "jsonrpc" }] });
        expect(svc.spec.loadBalancerSourceRanges).toBeUndefined();
        const headless = inputsOf(rec.one("kubernetes:core/v1:Service", "copilot-pods"));
        expect(headless.spec.clusterIP).toBe("None");
        expect(resolved.endpoint).toBe("copilot.copilot-fleet.svc.cluster.local:4321");
    });

    it("public exposure: LoadBalancer limited to allowedCidrs, NetworkPolicy admits the same ranges", async () => {
        const { resolved } = await run({ ...base, exposure: "public", allowedCidrs: '["203.0.113.0/24","198.51.100.7/32"]', clientAffinity: "true" });
        const svc = inputsOf(rec.one("kubernetes:core/v1:Service", "copilot"));
        expect(svc.spec).toMatchObject({
            type: "LoadBalancer",
            externalTrafficPolicy: "Local",
            sessionAffinity: "ClientIP",
            loadBalancerSourceRanges: ["203.0.113.0/24", "198.51.100.7/32"],
        });
        expect(svc.metadata.annotations).toEqual({});
        expect(resolved.endpoint).toBe(`${MOCK_LB_IP}:4321`);
        const np = inputsOf(rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "copilot-server"));
        expect(np.spec.ingress[0].from).toEqual([
            { namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot" } } },
            { ipBlock: { cidr: "203.0.113.0/24" } },
            { ipBlock: { cidr: "198.51.100.7/32" } },
        ]);
    });

    it("internal exposure: private load balancer annotations for AKS, EKS and GKE", async () => {
        await run({ ...base, exposure: "internal", serviceAnnotations: '{"service.beta.kubernetes.io/azure-load-balancer-internal-subnet":"apps"}' });
        const svc = inputsOf(rec.one("kubernetes:core/v1:Service", "copilot"));
        expect(svc.spec.type).toBe("LoadBalancer");
        expect(svc.metadata.annotations).toMatchObject({
            "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
            "service.beta.kubernetes.io/azure-load-balancer-internal-subnet": "apps",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "networking.gke.io/load-balancer-type": "Internal",
        });
    });

    it("NetworkPolicies: only labelled clients reach port 4321; only the fleet's clients reach Redis (not its servers)", async () => {
        await run(base);
        const server = inputsOf(rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "copilot-server"));
        expect(server.spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "copilot-cli", "app.kubernetes.io/instance": "copilot", "app.kubernetes.io/component": "server" } });
        expect(server.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(server.spec.ingress).toEqual([
            { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot" } } }], ports: [{ protocol: "TCP", port: 4321 }] },
        ]);
        const redis = inputsOf(rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "copilot-redis"));
        expect(redis.spec.ingress[0].ports).toEqual([{ protocol: "TCP", port: 6379 }]);
        expect(redis.spec.ingress[0].from).toEqual([{ namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot" } } }]);
    });

    it("Redis: pinned image, password only in a mounted Secret file, probes, non-root", async () => {
        const { outputs, resolved } = await run(base);
        const d = rec.one("kubernetes:apps/v1:Deployment", "copilot-redis");
        const c = container(d);
        expect(c.image).toMatch(/^redis:\d+\.\d+\.\d+-/);
        expect(c.args).toEqual(["redis-server", "/etc/redis/redis.conf"]);
        expect(c.readinessProbe.exec.command.join(" ")).toContain("redis-cli");
        expect(c.livenessProbe).toBeDefined();
        expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        const password = rec.one("random:index/randomPassword:RandomPassword", "copilot-redis-password").state.result as string;
        expect(JSON.stringify(inputsOf(d))).not.toContain(password);
        const conf = inputsOf(rec.one("kubernetes:core/v1:Secret", "copilot-redis-config")).stringData["redis.conf"] as string;
        expect(conf).toContain(`requirepass ${password}`);
        expect(conf).toContain("maxmemory-policy noeviction");
        expect(resolved.redisUrl).toBe(`redis://:${password}@copilot-redis.copilot-fleet.svc.cluster.local:6379`);
        expect(await pulumiMod.isSecret(outputs.redisUrl as pulumi.Output<string>)).toBe(true);
    });

    it("redis=false registers no Redis and no redisUrl", async () => {
        const { resolved } = await run({ ...base, redis: "false" });
        expect(rec.resources.filter((r) => r.name.includes("redis"))).toEqual([]);
        expect(resolved.redisUrl).toBeUndefined();
    });

    it("PodDisruptionBudget keeps all but one replica up", async () => {
        await run(base);
        expect(inputsOf(rec.one("kubernetes:policy/v1:PodDisruptionBudget", "copilot")).spec).toMatchObject({ maxUnavailable: 1 });
    });

    it("outputs the smoke suite's contract, tokens as secrets", async () => {
        const { outputs, resolved } = await run(base);
        const token = rec.one("random:index/randomPassword:RandomPassword", "copilot-connection-token").state.result;
        expect(resolved).toMatchObject({
            platform: "kubernetes",
            mode: "shared",
            connectionToken: token,
            namespace: "copilot-fleet",
            selector: "app.kubernetes.io/name=copilot-cli,app.kubernetes.io/instance=copilot,app.kubernetes.io/component=server",
            port: 4321,
            sessionStatePath: "/home/copilot/.copilot/session-state",
        });
        expect(await pulumiMod.isSecret(outputs.connectionToken as pulumi.Output<string>)).toBe(true);
    });

    it("uses a configured connection token instead of generating one", async () => {
        const { resolved } = await run({ ...base, connectionToken: "t".repeat(24) });
        expect(rec.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name)).toEqual(["copilot-redis-password"]);
        expect(inputsOf(rec.one("kubernetes:core/v1:Secret", "copilot-credentials")).stringData["connection-token"]).toBe("t".repeat(24));
        expect(resolved.connectionToken).toBe("t".repeat(24));
    });

    it("builds and pushes the image when imageRepository is set, and deploys it by digest", async () => {
        await run({ platform: "kubernetes", githubToken: "t", imageRepository: "registry.example.com/copilot-cli", cliVersion: "1.0.99" });
        const image = rec.one("docker:index/image:Image", "copilot-image");
        expect(inputsOf(image)).toMatchObject({ imageName: "registry.example.com/copilot-cli:1.0.99-linux-amd64", skipPush: false, build: { platform: "linux/amd64", args: { COPILOT_VERSION: "1.0.99" } } });
        expect(container(rec.one("kubernetes:apps/v1:Deployment", "copilot")).image).toBe(`registry.example.com/copilot-cli@${MOCK_IMAGE_DIGEST}`);
    });

    it("does not create the namespace when createNamespace=false", async () => {
        await run({ ...base, createNamespace: "false", namespace: "shared-ns" });
        expect(rec.ofType("kubernetes:core/v1:Namespace")).toEqual([]);
        expect(inputsOf(rec.one("kubernetes:apps/v1:Deployment", "copilot")).metadata.namespace).toBe("shared-ns");
    });

    it("labels the namespace for Pod Security 'restricted'", async () => {
        await run(base);
        expect(inputsOf(rec.one("kubernetes:core/v1:Namespace", "copilot-fleet")).metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted" });
    });
});
