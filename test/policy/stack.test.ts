/** Network, Redis, storage and per-user isolation rules: compliant input, then one change per case. */
import { describe, expect, it } from "vitest";
import * as k8s from "@pulumi/kubernetes";
import * as docker from "@pulumi/docker";
import { pulumiTypeOf } from "../../policy/common";
import { noPublicEndpoint, networkPolicyCoversServers } from "../../policy/network";
import { redisPassword } from "../../policy/redis";
import { sharedSessionState, storageAccountSecure } from "../../policy/storage";
import { perUserIsolation } from "../../policy/isolation";
import { SESSION_STATE_PATH } from "../../components/contract/server";
import {
    aciContainerOf,
    aciOf,
    aciServer,
    clusterService,
    containerOf,
    deploymentOf,
    DOCKER_CONTAINER,
    dockerOf,
    dockerServer,
    K8S,
    kubernetesStack,
    podOf,
    redisDeployment,
    serverDeployment,
    serverNetworkPolicy,
    sessionClaim,
    storageAccount,
} from "./fixtures";
import { FakeResource, runResourcePolicy, runStackPolicy, withChange } from "./util";

type Svc = { metadata: { annotations?: Record<string, string> }; spec: { type?: string; loadBalancerSourceRanges?: string[]; externalIPs?: string[] } };
const svcOf = (r: FakeResource) => r.props as Svc;
const publicLb = withChange(clusterService(), (r) => void (svcOf(r).spec.type = "LoadBalancer"));
const allow = { allowPublicEndpoints: true };

describe("copilot-network-no-public-endpoint", () => {
    it.each([
        ["ClusterIP service", clusterService(), {}, 0],
        ["public LB without opt-in", publicLb, {}, 1],
        ["internal LB (AKS annotation)", withChange(publicLb, (r) => void (svcOf(r).metadata.annotations = { "service.beta.kubernetes.io/azure-load-balancer-internal": "true" })), {}, 0],
        ["public LB opted in with ranges", withChange(publicLb, (r) => void (svcOf(r).spec.loadBalancerSourceRanges = ["203.0.113.0/24"])), allow, 0],
        ["public LB opted in without ranges", publicLb, allow, 1],
        ["public LB opted in open to the world", withChange(publicLb, (r) => void (svcOf(r).spec.loadBalancerSourceRanges = ["0.0.0.0/0"])), allow, 1],
        ["NodePort", withChange(clusterService(), (r) => void (svcOf(r).spec.type = "NodePort")), {}, 1],
        ["externalIPs", withChange(clusterService(), (r) => void (svcOf(r).spec.externalIPs = ["198.51.100.7"])), {}, 1],
        ["docker on loopback", dockerServer(), {}, 0],
        ["docker port without ip", withChange(dockerServer(), (r) => void (dockerOf(r).ports = [{ internal: 4321, external: 4321 }])), {}, 1],
        ["docker port on 0.0.0.0 opted in", withChange(dockerServer(), (r) => void (dockerOf(r).ports = [{ internal: 4321, ip: "0.0.0.0" }])), allow, 0],
        ["docker host network", withChange(dockerServer(), (r) => void (dockerOf(r).networkMode = "host")), {}, 1],
        ["aci private", aciServer(), {}, 0],
        ["aci public", withChange(aciServer(), (r) => void (aciOf(r).ipAddress = { type: "Public", ports: [{ port: 4321 }] })), {}, 1],
        ["aci public opted in", withChange(aciServer(), (r) => void (aciOf(r).ipAddress = { type: "Public" })), allow, 0],
        ["azure public IP", { type: "azure-native:network:PublicIPAddress", name: "pip", props: {} }, {}, 1],
    ] as const)("%s", async (_n, resource, config, count) => {
        const run = await runResourcePolicy(noPublicEndpoint, resource, config);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) expect(v.message).toMatch(/because/);
    });

    it("the opt-in key is a documented boolean defaulting to false", () => {
        expect(noPublicEndpoint.configSchema?.properties.allowPublicEndpoints).toMatchObject({ type: "boolean", default: false });
    });
});

describe("copilot-redis-password", () => {
    const redis = redisDeployment();
    const setArgs = (args: string[], env?: { name: string; value?: string; valueFrom?: object }[]) =>
        withChange(redis, (r) => {
            containerOf(r).args = args;
            if (env) containerOf(r).env = env;
        });
    const fromSecret = { secretKeyRef: { name: "redis", key: "password" } };
    it.each([
        ["conf file from a Secret volume", redis, 0],
        ["no config, no password", setArgs(["redis-server"]), 1],
        ["conf file from an emptyDir", withChange(redis, (r) => void (podOf(r).volumes = [{ name: "config", emptyDir: {} }])), 1],
        ["--requirepass $(REDIS_PASSWORD) from a secret", setArgs(["redis-server", "--requirepass", "$(REDIS_PASSWORD)"], [{ name: "REDIS_PASSWORD", valueFrom: fromSecret }]), 0],
        ["--requirepass literal", setArgs(["redis-server", "--requirepass", "hunter2"]), 1],
        ["--requirepass $(VAR) with VAR plain", setArgs(["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"'], [{ name: "REDIS_PASSWORD", value: "x" }]), 1],
        ["bitnami REDIS_PASSWORD from a secret", setArgs([], [{ name: "REDIS_PASSWORD", valueFrom: fromSecret }]), 0],
        ["ALLOW_EMPTY_PASSWORD", setArgs([], [{ name: "REDIS_PASSWORD", valueFrom: fromSecret }, { name: "ALLOW_EMPTY_PASSWORD", value: "yes" }]), 1],
    ] as const)("%s", async (_n, resource, count) => {
        const run = await runResourcePolicy(redisPassword, resource);
        expect(run.violations).toHaveLength(count);
    });

    it("is not applicable to a CLI server", async () => {
        const run = await runResourcePolicy(redisPassword, serverDeployment());
        expect(run.notApplicable.length).toBeGreaterThan(0);
    });
});

describe("copilot-network-policy-covers-servers", () => {
    const stack = kubernetesStack();
    const without = (type: string) => stack.filter((r) => r.type !== type);
    type Np = { metadata: { namespace?: string }; spec: { podSelector?: object; policyTypes?: string[]; ingress?: object[] } };
    const np = (change: (p: Np) => void) => [...without(K8S.networkPolicy), withChange(serverNetworkPolicy(), (r) => change(r.props as Np))];
    it.each([
        ["compliant", stack, 1 - 1],
        ["no NetworkPolicy", without(K8S.networkPolicy), 1],
        ["policy in another namespace", np((p) => void (p.metadata.namespace = "other")), 1],
        ["selector does not match", np((p) => void (p.spec.podSelector = { matchLabels: { "app.kubernetes.io/name": "other" } })), 1],
        ["egress-only policy", np((p) => void (p.spec.policyTypes = ["Egress"])), 1],
        ["allow-all ingress rule", np((p) => void (p.spec.ingress = [{}])), 1],
        ["empty selector (whole namespace) still restricts", np((p) => void (p.spec.podSelector = {})), 0],
    ] as const)("%s", async (_n, resources, count) => {
        const run = await runStackPolicy(networkPolicyCoversServers, resources);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) expect(v.urn).toMatch(/Deployment::fleet$/);
    });
});

describe("copilot-storage-shared-session-state", () => {
    const stack = kubernetesStack();
    const replace = (type: string, name: string, r: FakeResource) => [...stack.filter((x) => !(x.type === type && x.name === name)), r];
    it.each([
        ["k8s compliant", stack, 0],
        ["claim ReadWriteOnce", replace(K8S.pvc, "fleet-session-state", sessionClaim("fleet-session-state", ["ReadWriteOnce"])), 1],
        ["claim not declared in the stack", stack.filter((r) => r.type !== K8S.pvc), 1],
        ["session state on emptyDir", replace(K8S.deployment, "fleet", withChange(serverDeployment(), (r) => void (podOf(r).volumes![0] = { name: "session-state", emptyDir: {} }))), 1],
        ["session state not mounted", replace(K8S.deployment, "fleet", withChange(serverDeployment(), (r) => void (containerOf(r).volumeMounts = []))), 1],
        ["one replica on RWO is fine", [serverDeployment({ replicas: 1 }), sessionClaim("fleet-session-state", ["ReadWriteOnce"])], 0],
        [
            "one replica but an HPA up to 5 on RWO",
            [
                serverDeployment({ replicas: 1 }),
                sessionClaim("fleet-session-state", ["ReadWriteOnce"]),
                { type: K8S.hpa, name: "hpa", props: { metadata: { namespace: "copilot" }, spec: { maxReplicas: 5, scaleTargetRef: { kind: "Deployment", name: "fleet" } } } },
            ],
            1,
        ],
        [
            "StatefulSet with a claim per pod",
            [
                withChange(serverDeployment(), (r) => {
                    r.type = K8S.statefulSet;
                    podOf(r).volumes = [{ name: "copilot-home", emptyDir: {} }];
                    (deploymentOf(r).spec as { volumeClaimTemplates?: object[] }).volumeClaimTemplates = [{ metadata: { name: "session-state" } }];
                }),
            ],
            1,
        ],
        ["docker two replicas on one volume", [dockerServer({ name: "a" }), dockerServer({ name: "b" })], 0],
        ["docker two replicas on different volumes", [dockerServer({ name: "a" }), dockerServer({ name: "b", volume: "other" })], 1],
        ["docker replica without the volume", [dockerServer({ name: "a" }), withChange(dockerServer({ name: "b" }), (r) => void (dockerOf(r).volumes = []))], 1],
        ["aci two groups on one share", [aciServer({ name: "a" }), aciServer({ name: "b" })], 0],
        ["aci two groups on different shares", [aciServer({ name: "a" }), aciServer({ name: "b", share: "other" })], 1],
        [
            "aci group with session state on emptyDir",
            [aciServer({ name: "a" }), withChange(aciServer({ name: "b" }), (r) => void (aciOf(r).volumes = [{ name: "session-state", emptyDir: {} }]))],
            1,
        ],
    ] as const)("%s", async (_n, resources, count) => {
        const run = await runStackPolicy(sharedSessionState, resources);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) expect(v.message).toMatch(/because|ReadWriteMany/);
    });

    it("is not applicable without a multi-replica fleet", async () => {
        const run = await runStackPolicy(sharedSessionState, [redisDeployment()]);
        expect(run.notApplicable.length).toBe(1);
    });
});

describe("copilot-storage-account-secure", () => {
    type Sa = { enableHttpsTrafficOnly?: boolean; minimumTlsVersion?: string; allowBlobPublicAccess?: boolean };
    const sa = (change: (p: Sa) => void) => withChange(storageAccount(), (r) => change(r.props as Sa));
    it.each([
        ["compliant", storageAccount(), 0],
        ["TLS 1.3", sa((p) => void (p.minimumTlsVersion = "TLS1_3")), 0],
        ["http allowed", sa((p) => void (p.enableHttpsTrafficOnly = false)), 1],
        ["https unset", sa((p) => void delete p.enableHttpsTrafficOnly), 1],
        ["TLS 1.0", sa((p) => void (p.minimumTlsVersion = "TLS1_0")), 1],
        ["TLS unset", sa((p) => void delete p.minimumTlsVersion), 1],
        ["public blobs", sa((p) => void (p.allowBlobPublicAccess = true)), 1],
        ["public blobs unset", sa((p) => void delete p.allowBlobPublicAccess), 1],
    ] as const)("%s", async (_n, resource, count) => {
        const run = await runResourcePolicy(storageAccountSecure, resource);
        expect(run.violations).toHaveLength(count);
    });
});

describe("copilot-isolation-per-user", () => {
    const alice = serverDeployment({ name: "alice", user: "alice", replicas: 1 });
    const bob = serverDeployment({ name: "bob", user: "bob", replicas: 1 });
    it.each([
        ["k8s separate claims and secrets", [alice, bob], 0],
        ["k8s shared claim", [alice, serverDeployment({ name: "bob", user: "bob", replicas: 1, claim: "alice-session-state" })], 1],
        ["k8s shared Secret", [alice, serverDeployment({ name: "bob", user: "bob", replicas: 1, secret: "alice-credentials" })], 1],
        ["docker separate", [dockerServer({ name: "a", user: "alice", volume: "a", token: "a".repeat(48) }), dockerServer({ name: "b", user: "bob", volume: "b", token: "b".repeat(48) })], 0],
        ["docker shared volume", [dockerServer({ name: "a", user: "alice", volume: "v", token: "a".repeat(48) }), dockerServer({ name: "b", user: "bob", volume: "v", token: "b".repeat(48) })], 1],
        ["docker shared token", [dockerServer({ name: "a", user: "alice", volume: "a" }), dockerServer({ name: "b", user: "bob", volume: "b" })], 1],
        ["aci separate", [aciServer({ name: "a", user: "alice", share: "a", token: "a".repeat(48) }), aciServer({ name: "b", user: "bob", share: "b", token: "b".repeat(48) })], 0],
        ["aci shared share", [aciServer({ name: "a", user: "alice", share: "s", token: "a".repeat(48) }), aciServer({ name: "b", user: "bob", share: "s", token: "b".repeat(48) })], 1],
        [
            "aci shared secure token",
            [aciServer({ name: "a", user: "alice", share: "a" }), withChange(aciServer({ name: "b", user: "bob", share: "b" }), (r) => void aciContainerOf(r))],
            1,
        ],
    ] as const)("%s", async (_n, resources, count) => {
        const run = await runStackPolicy(perUserIsolation, resources);
        expect(run.violations).toHaveLength(count);
        for (const v of run.violations) expect(v.message).not.toMatch(/a{48}|s{48}|t{48}/);
    });

    it("does not apply to shared fleets", async () => {
        const run = await runStackPolicy(perUserIsolation, kubernetesStack());
        expect(run.notApplicable.length).toBe(1);
    });

    it("mount path constant is the contract's", () => {
        expect(containerOf(alice).volumeMounts!.some((m) => m.mountPath === SESSION_STATE_PATH)).toBe(true);
    });
});

describe("fixtures use the providers' real type tokens", () => {
    it.each([
        [K8S.deployment, k8s.apps.v1.Deployment],
        [K8S.statefulSet, k8s.apps.v1.StatefulSet],
        [K8S.service, k8s.core.v1.Service],
        [K8S.pvc, k8s.core.v1.PersistentVolumeClaim],
        [K8S.networkPolicy, k8s.networking.v1.NetworkPolicy],
        [K8S.hpa, k8s.autoscaling.v2.HorizontalPodAutoscaler],
        [DOCKER_CONTAINER, docker.Container],
    ] as const)("%s", (token, cls) => {
        expect(pulumiTypeOf(cls)).toBe(token);
    });
});
