/**
 * Egress on Kubernetes under mocks: server pods (shared and per-user) reach DNS and the public
 * internet on 443, never link-local, private ranges or the cluster, except what the stack allows;
 * Redis admits only clients and opens nothing; the cleanup CronJob reaches only the servers. Every
 * object goes through the real Kubernetes schema, and a small evaluator of NetworkPolicy egress
 * semantics answers "may this pod open that connection" so the tests assert reach, not shapes.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../../components/config";
import { cidrContains, parseAddress, parseCidr } from "../../../components/contract/cidr";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { isKubernetesObject, validateAgainstSchema } from "../../helpers/k8sSchema";
import { installMocks, MockRecorder, RecordedResource } from "../../helpers/pulumiMocks";

let rec: MockRecorder;
beforeAll(() => {
    rec = installMocks();
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const shared: RawConfig = { platform: "kubernetes", githubToken: "gho_service_token", image: IMAGE, replicas: "2" };
const perUser: RawConfig = { platform: "kubernetes", mode: "per-user", githubToken: "gho_service_token", image: IMAGE, users: '["alice","bob"]' };
const POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const NS = "copilot-fleet";
const inputsOf = (r: RecordedResource) => r.inputs as Obj;

/** A connection's far end: an address, or a pod (namespace, labels) with its address. */
type Peer = { ip: string; pod?: { namespace: string; labels: Record<string, string>; namespaceLabels?: Record<string, string> } };
const subset = (sel: Record<string, string> | undefined, labels: Record<string, string>) => Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v);

function peerMatches(p: Obj, policyNs: string, to: Peer): boolean {
    if (p.ipBlock) {
        // ipBlock selects addresses outside the cluster; pod traffic is matched by pod selectors (most CNIs).
        if (to.pod) return false;
        const block = parseCidr(p.ipBlock.cidr);
        const addr = parseAddress(to.ip);
        if (!block || !addr || !cidrContains(block, addr)) return false;
        return !((p.ipBlock.except ?? []) as string[]).some((e) => {
            const ex = parseCidr(e);
            return ex !== undefined && cidrContains(ex, addr);
        });
    }
    if (!to.pod) return false;
    const nsLabels = { "kubernetes.io/metadata.name": to.pod.namespace, ...(to.pod.namespaceLabels ?? {}) };
    const nsOk = p.namespaceSelector !== undefined ? subset(p.namespaceSelector.matchLabels, nsLabels) : to.pod.namespace === policyNs;
    const podOk = p.podSelector === undefined || subset(p.podSelector.matchLabels, to.pod.labels);
    return nsOk && podOk;
}

/** May a pod with `labels` in namespace NS open `protocol`/`port` to `to`, under `policies`? */
function egressAdmits(policies: Obj[], labels: Record<string, string>, to: Peer, port: number, protocol = "TCP"): boolean {
    const selecting = policies.filter((p) => p.metadata.namespace === NS && subset(p.spec.podSelector.matchLabels, labels) && (p.spec.policyTypes ?? []).includes("Egress"));
    if (selecting.length === 0) return true;
    return selecting.some((p) =>
        ((p.spec.egress ?? []) as Obj[]).some(
            (rule) =>
                (rule.ports === undefined || (rule.ports as Obj[]).some((rp) => rp.port === port && (rp.protocol ?? "TCP") === protocol)) &&
                (rule.to === undefined || (rule.to as Obj[]).some((peer) => peerMatches(peer, p.metadata.namespace, to))),
        ),
    );
}

const KUBE_DNS: Peer = { ip: "10.96.0.10", pod: { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } } };
const GITHUB: Peer = { ip: "140.82.112.3" };
const GITHUB_V6: Peer = { ip: "2606:50c0:8000::154" };
/** Addresses a prompt-injected tool would try: cloud metadata (also Azure's identity endpoint), the node, the API server, the VPC, loopback. */
const FORBIDDEN: readonly Peer[] = [
    { ip: "169.254.169.254" },
    { ip: "169.254.170.2" },
    { ip: "fd00:ec2::254" },
    { ip: "fe80::1" },
    { ip: "10.0.0.1" },
    { ip: "10.96.0.1" },
    { ip: "172.16.5.4" },
    { ip: "192.168.1.1" },
    { ip: "100.64.0.1" },
    { ip: "127.0.0.1" },
    { ip: "fd12:3456::1" },
];
const otherPod = (namespace: string, labels: Record<string, string> = { app: "db" }): Peer => ({ ip: "10.244.1.9", pod: { namespace, labels } });

const serverPodLabels = (user?: string) => {
    const d = rec
        .ofType("kubernetes:apps/v1:Deployment")
        .map(inputsOf)
        .find((x) => x.spec.template.metadata.labels["app.kubernetes.io/component"] === "server" && (user === undefined || x.spec.template.metadata.labels["copilot-fleet.github.com/user"] === user));
    if (!d) throw new Error("no server Deployment");
    return d.spec.template.metadata.labels as Record<string, string>;
};
const policies = () => rec.ofType(POLICY).map(inputsOf);

describe("shared fleet: server egress", () => {
    it("reaches DNS and the public internet on 443 only: not metadata, private ranges, the cluster or other ports", async () => {
        await deployUnderMocks(shared);
        const ps = policies();
        const server = serverPodLabels();
        expect(egressAdmits(ps, server, KUBE_DNS, 53, "UDP")).toBe(true);
        expect(egressAdmits(ps, server, KUBE_DNS, 53, "TCP")).toBe(true);
        expect(egressAdmits(ps, server, GITHUB, 443)).toBe(true);
        expect(egressAdmits(ps, server, GITHUB_V6, 443)).toBe(true);
        // Plain HTTP is not needed: the CLI's endpoints are HTTPS.
        expect(egressAdmits(ps, server, GITHUB, 80)).toBe(false);
        expect(egressAdmits(ps, server, GITHUB, 22)).toBe(false);
        for (const peer of FORBIDDEN) {
            for (const port of [80, 443, 8080]) expect(egressAdmits(ps, server, peer, port), `${peer.ip}:${port}`).toBe(false);
        }
        // The cluster: the fleet's own Redis, another namespace's pod, DNS on a non-DNS port.
        const redisLabels = rec.ofType("kubernetes:apps/v1:Deployment").map(inputsOf).find((x) => x.metadata.name === "copilot-redis")!.spec.template.metadata.labels;
        expect(egressAdmits(ps, server, { ip: "10.244.0.7", pod: { namespace: NS, labels: redisLabels } }, 6379)).toBe(false);
        expect(egressAdmits(ps, server, otherPod("default"), 443)).toBe(false);
        expect(egressAdmits(ps, server, KUBE_DNS, 443)).toBe(false);
    });

    it("renders the DNS rule against kube-system's kube-dns pods and the public rule with every private and link-local range excepted", async () => {
        await deployUnderMocks(shared);
        const np = inputsOf(rec.one(POLICY, "copilot-server"));
        expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(np.spec.egress[0]).toEqual({
            to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
            ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
            ],
        });
        expect(np.spec.egress[1]).toEqual({
            to: [
                { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"] } },
                { ipBlock: { cidr: "::/0", except: ["fc00::/7", "::1/128", "fe80::/10"] } },
            ],
            ports: [{ protocol: "TCP", port: 443 }],
        });
        expect(np.spec.egress).toHaveLength(2);
    });

    it("egressAllowedCidrs opens exactly those ranges (any port); the rest stays closed", async () => {
        await deployUnderMocks({ ...shared, egressAllowedCidrs: '["10.20.0.0/24","fd00:1::/64"]' });
        const ps = policies();
        const server = serverPodLabels();
        expect(egressAdmits(ps, server, { ip: "10.20.0.9" }, 8000)).toBe(true);
        expect(egressAdmits(ps, server, { ip: "fd00:1::5" }, 4318)).toBe(true);
        expect(egressAdmits(ps, server, { ip: "10.20.1.9" }, 8000)).toBe(false);
        expect(egressAdmits(ps, server, { ip: "169.254.169.254" }, 80)).toBe(false);
    });

    it("a private BYOK endpoint by IP and an in-cluster collector by Service name are reachable on their ports only", async () => {
        await deployUnderMocks({
            platform: "kubernetes",
            image: IMAGE,
            replicas: "2",
            provider: JSON.stringify({ type: "openai", baseUrl: "http://10.30.0.5:8000/v1", model: "m" }),
            telemetry: JSON.stringify({ otlpEndpoint: "http://otel-collector.monitoring:4318" }),
        });
        const ps = policies();
        const server = serverPodLabels();
        expect(egressAdmits(ps, server, { ip: "10.30.0.5" }, 8000)).toBe(true);
        expect(egressAdmits(ps, server, { ip: "10.30.0.5" }, 22)).toBe(false);
        expect(egressAdmits(ps, server, { ip: "10.30.0.6" }, 8000)).toBe(false);
        const collector = otherPod("monitoring", { app: "otel-collector" });
        expect(egressAdmits(ps, server, collector, 4318)).toBe(true);
        expect(egressAdmits(ps, server, collector, 9090)).toBe(false);
        expect(egressAdmits(ps, server, otherPod("default"), 4318)).toBe(false);
        for (const r of rec.resources.filter(isKubernetesObject)) validateAgainstSchema(r);
    });

    it("passes every Kubernetes object through the real schema with allowances, a public collector port and IPv6 ranges", async () => {
        await deployUnderMocks({
            ...shared,
            egressAllowedCidrs: '["10.20.0.0/24","fd00:1::/64","169.254.20.10/32"]',
            telemetry: JSON.stringify({ otlpEndpoint: "https://otlp.example.com:4318" }),
        });
        const np = inputsOf(rec.one(POLICY, "copilot-server"));
        expect(np.spec.egress[1].ports).toEqual([
            { protocol: "TCP", port: 443 },
            { protocol: "TCP", port: 4318 },
        ]);
        for (const r of rec.resources.filter(isKubernetesObject)) validateAgainstSchema(r);
    });
});

describe("Redis and the cleanup CronJob", () => {
    it("Redis admits only the fleet's client pods (not its servers) and opens no connection at all", async () => {
        await deployUnderMocks(shared);
        const np = inputsOf(rec.one(POLICY, "copilot-redis"));
        expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(np.spec.egress).toBeUndefined();
        expect(np.spec.ingress).toEqual([
            { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot" } } }], ports: [{ protocol: "TCP", port: 6379 }] },
        ]);
        const redis = rec.ofType("kubernetes:apps/v1:Deployment").map(inputsOf).find((x) => x.metadata.name === "copilot-redis")!.spec.template.metadata.labels;
        expect(egressAdmits(policies(), redis, GITHUB, 443)).toBe(false);
        expect(egressAdmits(policies(), redis, KUBE_DNS, 53, "UDP")).toBe(false);
    });

    it("the cleanup pods reach DNS and the fleet's servers on 4321, nothing else", async () => {
        await deployUnderMocks(shared);
        const cj = inputsOf(rec.one("kubernetes:batch/v1:CronJob", "copilot-session-cleanup"));
        const labels = cj.spec.jobTemplate.spec.template.metadata.labels as Record<string, string>;
        const np = inputsOf(rec.one(POLICY, "copilot-session-cleanup"));
        expect(subset(np.spec.podSelector.matchLabels, labels)).toBe(true);
        expect(np.spec.policyTypes).toEqual(["Egress"]);
        const ps = policies();
        const server: Peer = { ip: "10.244.0.5", pod: { namespace: NS, labels: serverPodLabels() } };
        expect(egressAdmits(ps, labels, server, 4321)).toBe(true);
        expect(egressAdmits(ps, labels, KUBE_DNS, 53, "UDP")).toBe(true);
        expect(egressAdmits(ps, labels, server, 22)).toBe(false);
        expect(egressAdmits(ps, labels, GITHUB, 443)).toBe(false);
        expect(egressAdmits(ps, labels, { ip: "169.254.169.254" }, 80)).toBe(false);
        validateAgainstSchema(rec.one(POLICY, "copilot-session-cleanup"));
    });
});

describe("per-user fleet: server egress", () => {
    it("each user's pod gets the same egress as a shared server; the default deny covers egress too", async () => {
        await deployUnderMocks({ ...perUser, egressAllowedCidrs: '["10.20.0.0/24"]' });
        const ps = policies();
        const deny = ps.find((p) => p.metadata.name === "copilot-default-deny")!;
        expect(deny.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(deny.spec.egress).toBeUndefined();
        for (const id of ["alice", "bob"]) {
            const pod = serverPodLabels(id);
            expect(egressAdmits(ps, pod, GITHUB, 443)).toBe(true);
            expect(egressAdmits(ps, pod, KUBE_DNS, 53, "UDP")).toBe(true);
            expect(egressAdmits(ps, pod, { ip: "10.20.0.9" }, 8000)).toBe(true);
            for (const peer of FORBIDDEN) expect(egressAdmits(ps, pod, peer, 443), `${id} → ${peer.ip}`).toBe(false);
            // Another user's server, through its pod address.
            const other = id === "alice" ? "bob" : "alice";
            expect(egressAdmits(ps, pod, { ip: "10.244.2.2", pod: { namespace: NS, labels: serverPodLabels(other) } }, 4321)).toBe(false);
        }
        for (const r of rec.resources.filter(isKubernetesObject)) validateAgainstSchema(r);
    });

    it("a user pod selected only by the default deny opens nothing", async () => {
        await deployUnderMocks(perUser);
        const onlyDeny = policies().filter((p) => p.metadata.name === "copilot-default-deny");
        expect(egressAdmits(onlyDeny, serverPodLabels("alice"), GITHUB, 443)).toBe(false);
    });
});
