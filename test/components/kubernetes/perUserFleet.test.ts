import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../../components/config";
import type { UserOutput } from "../../../components/contract/outputs";
import { parseFleetConfig } from "../../../components/config";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MOCK_LB_IP, MockRecorder, promiseOf, RecordedResource, settle } from "../../helpers/pulumiMocks";
import { isKubernetesObject, validateAgainstSchema } from "../../helpers/k8sSchema";

type PerUserModule = typeof import("../../../components/kubernetes/perUserFleet");

let rec: MockRecorder;
let perUser: PerUserModule;
let pulumiMod: typeof pulumi;

beforeAll(async () => {
    rec = installMocks();
    perUser = await import("../../../components/kubernetes/perUserFleet");
    pulumiMod = await import("@pulumi/pulumi");
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const SERVICE_TOKEN = "gho_service_token";
const base: RawConfig = { platform: "kubernetes", mode: "per-user", githubToken: SERVICE_TOKEN, image: IMAGE, users: '["alice","bob","carol"]' };

const T = {
    deployment: "kubernetes:apps/v1:Deployment",
    service: "kubernetes:core/v1:Service",
    secret: "kubernetes:core/v1:Secret",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    policy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    password: "random:index/randomPassword:RandomPassword",
    userServer: "copilot-fleet:index:UserServer",
} as const;

const run = deployUnderMocks;

const inputsOf = (r: RecordedResource) => r.inputs as Obj;
const podSpec = (d: RecordedResource) => inputsOf(d).spec.template.spec as Obj;
const container = (d: RecordedResource) => podSpec(d).containers[0] as Obj;
const byName = (): Map<string, RecordedResource> => new Map(rec.resources.map((r) => [`${r.type} ${r.name}`, r]));
const get = (m: Map<string, RecordedResource>, type: string, name: string): RecordedResource => {
    const r = m.get(`${type} ${name}`);
    if (!r) throw new Error(`no ${type} ${name}; have ${[...m.keys()].join(", ")}`);
    return r;
};
const tokenOf = (m: Map<string, RecordedResource>, id: string) => get(m, T.password, `copilot-u-${id}-connection-token`).state.result as string;

/** Everything recorded for one user (its component and every child), keyed by type and name. */
function userRecords(id: string): Record<string, { type: string; name: string; inputs: unknown }> {
    const out: Record<string, { type: string; name: string; inputs: unknown }> = {};
    for (const r of rec.resources) {
        if (r.name === `copilot-u-${id}` || r.name.startsWith(`copilot-u-${id}-`)) out[`${r.type} ${r.name}`] = { type: r.type, name: r.name, inputs: r.inputs };
    }
    return out;
}

/**
 * NetworkPolicy semantics, enough to answer "may pod P (labels, namespace-agnostic) open a TCP
 * connection to server pod S on `port`": S must be selected by a policy with an ingress rule whose
 * `from` admits P's labels (podSelector matchLabels ⊆ P's labels) on that port. A pod selected by no
 * policy would admit everyone; our server pods are always selected (default deny), so that case fails.
 */
function admits(policies: Obj[], server: Record<string, string>, client: Record<string, string>, port: number): boolean {
    const subset = (sel: Record<string, string> | undefined, labels: Record<string, string>) => Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v);
    const selecting = policies.filter((p) => subset(p.spec.podSelector.matchLabels, server));
    if (selecting.length === 0) return true;
    return selecting.some((p) =>
        ((p.spec.ingress ?? []) as Obj[]).some(
            (rule) =>
                ((rule.ports ?? []) as Obj[]).some((rp) => rp.port === port) &&
                ((rule.from ?? []) as Obj[]).some((f) => f.podSelector !== undefined && subset(f.podSelector.matchLabels, client)),
        ),
    );
}

describe("per-user fleet on Kubernetes: three users", () => {
    it("registers one isolated server per user plus a default-deny policy, and nothing shared", async () => {
        await run(base);
        const set = rec.resources.map((r) => `${r.type} ${r.name}`).sort();
        const perUserSet = (id: string) => [
            `${T.userServer} copilot-u-${id}`,
            `${T.password} copilot-u-${id}-connection-token`,
            `${T.secret} copilot-u-${id}-credentials`,
            `${T.pvc} copilot-u-${id}-state`,
            `${T.deployment} copilot-u-${id}`,
            `${T.service} copilot-u-${id}`,
            `${T.policy} copilot-u-${id}`,
        ];
        expect(set).toEqual(
            [
                "copilot-fleet:index:PerUserFleet copilot",
                "kubernetes:core/v1:Namespace copilot-fleet",
                `${T.policy} copilot-default-deny`,
                ...perUserSet("alice"),
                ...perUserSet("bob"),
                ...perUserSet("carol"),
            ].sort(),
        );
        // No Redis by default in per-user mode.
        expect(rec.resources.filter((r) => r.name.includes("redis"))).toEqual([]);
    });

    it("passes every Kubernetes object through the real Kubernetes schema (cluster and public exposure)", async () => {
        await run(base);
        const cluster = rec.resources.filter(isKubernetesObject);
        expect(cluster).toHaveLength(1 + 1 + 3 * 5);
        for (const r of cluster) validateAgainstSchema(r);
        rec.clear();
        await run({ ...base, exposure: "public", allowedCidrs: '["203.0.113.0/24"]', users: '["alice","1abc"]' });
        const pub = rec.resources.filter(isKubernetesObject);
        expect(pub).toHaveLength(1 + 1 + 2 * 5);
        for (const r of pub) validateAgainstSchema(r);
    });

    it("gives each user a distinct token, its own Secret and its own ReadWriteOnce claim; no volume or Secret is shared", async () => {
        await run({ ...base, storageClass: "managed-csi", storageSize: "2Gi" });
        const m = byName();
        const tokens = ["alice", "bob", "carol"].map((id) => tokenOf(m, id));
        expect(new Set(tokens).size).toBe(3);
        const claims = new Set<string>();
        const secrets = new Set<string>();
        for (const [i, id] of ["alice", "bob", "carol"].entries()) {
            const secret = inputsOf(get(m, T.secret, `copilot-u-${id}-credentials`));
            expect(secret.stringData).toEqual({ "connection-token": tokens[i], "github-token": SERVICE_TOKEN });
            const pvc = inputsOf(get(m, T.pvc, `copilot-u-${id}-state`));
            expect(pvc.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "managed-csi", resources: { requests: { storage: "2Gi" } } });
            const d = get(m, T.deployment, `copilot-u-${id}`);
            const pvcVolumes = (podSpec(d).volumes as Obj[]).filter((v) => v.persistentVolumeClaim);
            expect(pvcVolumes).toEqual([{ name: "session-state", persistentVolumeClaim: { claimName: `copilot-u-${id}-state` } }]);
            const refs = new Set((container(d).env as Obj[]).filter((e) => e.valueFrom).map((e) => e.valueFrom.secretKeyRef.name as string));
            expect([...refs]).toEqual([`copilot-u-${id}-credentials`]);
            claims.add(pvcVolumes[0].persistentVolumeClaim.claimName);
            secrets.add([...refs][0]);
            // A token appears only in its own user's Secret.
            for (const r of rec.resources) {
                if (r.type.startsWith("random:")) continue;
                const mine = r.type === T.secret && r.name === `copilot-u-${id}-credentials`;
                expect(JSON.stringify(r.inputs).includes(tokens[i]), `${r.type} ${r.name}`).toBe(mine);
            }
        }
        expect(claims.size).toBe(3);
        expect(secrets.size).toBe(3);
    });

    it("runs each server as a single replica with Recreate, from the same ServerSpec as the shared fleet", async () => {
        await run(base);
        const mine = get(byName(), T.deployment, "copilot-u-alice");
        rec.clear();
        await run({ platform: "kubernetes", githubToken: SERVICE_TOKEN, image: IMAGE, replicas: "2", redis: "false" });
        const shared = get(byName(), T.deployment, "copilot");
        const spec = inputsOf(mine).spec;
        expect(spec.replicas).toBe(1);
        expect(spec.strategy).toEqual({ type: "Recreate" });
        expect(spec.selector.matchLabels).toEqual({
            "app.kubernetes.io/name": "copilot-cli",
            "app.kubernetes.io/instance": "copilot",
            "app.kubernetes.io/component": "server",
            "copilot-fleet.github.com/user": "alice",
        });
        expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
        // Same container, probes, resources, security context and shutdown as the shared fleet; only the Secret and claim names differ.
        const rename = (o: Obj, from: string[], to: string[]) => JSON.parse(from.reduce((s, f, i) => s.split(`"${f}"`).join(`"${to[i]}"`), JSON.stringify(o)));
        // The per-user pod adds the session-cleanup sidecar (test/components/kubernetes/cleanup.test.ts); the server container is the same.
        const withoutSidecar = { ...podSpec(mine), containers: (podSpec(mine).containers as Obj[]).filter((c) => c.name !== "session-cleanup") };
        expect(rename(withoutSidecar, ["copilot-u-alice-credentials", "copilot-u-alice-state"], ["SECRET", "CLAIM"])).toEqual(
            rename({ ...podSpec(shared), topologySpreadConstraints: undefined }, ["copilot-credentials", "copilot-session-state"], ["SECRET", "CLAIM"]),
        );
        expect(container(mine).resources).toEqual({ requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } });
        expect(container(mine).readinessProbe.exec.command).toEqual(["/usr/local/bin/copilot-healthcheck"]);
        const { DEFAULT_TERMINATION_GRACE_SECONDS, DEFAULT_DRAIN_SECONDS } = await import("../../../components/contract/server");
        expect(podSpec(mine).terminationGracePeriodSeconds).toBe(DEFAULT_TERMINATION_GRACE_SECONDS);
        expect(container(mine).lifecycle.preStop.exec.command).toEqual(["sleep", String(DEFAULT_DRAIN_SECONDS)]);
    });

    it("NetworkPolicies admit only each user's own client pods: not other users' clients, not any server, not other fleets", async () => {
        await run(base);
        const policies = rec.ofType(T.policy).map(inputsOf);
        const deny = policies.find((p) => p.metadata.name === "copilot-default-deny");
        expect(deny?.spec).toEqual({
            podSelector: { matchLabels: { "app.kubernetes.io/name": "copilot-cli", "app.kubernetes.io/instance": "copilot", "app.kubernetes.io/component": "server" } },
            policyTypes: ["Ingress", "Egress"],
        });
        const alicePolicy = policies.find((p) => p.metadata.name === "copilot-u-alice");
        expect(alicePolicy?.spec.ingress).toEqual([
            {
                from: [{ namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot", "copilot-fleet.github.com/user": "alice" } } }],
                ports: [{ protocol: "TCP", port: 4321 }],
            },
        ]);
        const ids = ["alice", "bob", "carol"];
        const serverPod = (id: string) => inputsOf(get(byName(), T.deployment, `copilot-u-${id}`)).spec.template.metadata.labels as Record<string, string>;
        const client = (id: string, fleet = "copilot") => ({ app: "backend", "copilot-fleet.github.com/client": fleet, "copilot-fleet.github.com/user": id });
        for (const target of ids) {
            for (const from of ids) {
                expect(admits(policies, serverPod(target), client(from), 4321), `client of ${from} → server of ${target}`).toBe(from === target);
                // Servers never reach each other (nor themselves through the Service).
                expect(admits(policies, serverPod(target), serverPod(from), 4321), `server of ${from} → server of ${target}`).toBe(false);
            }
            expect(admits(policies, serverPod(target), client(target, "other-fleet"), 4321)).toBe(false);
            expect(admits(policies, serverPod(target), { "copilot-fleet.github.com/client": "copilot" }, 4321)).toBe(false);
            expect(admits(policies, serverPod(target), { "copilot-fleet.github.com/user": target }, 4321)).toBe(false);
            expect(admits(policies, serverPod(target), client(target), 8080)).toBe(false);
        }
    });

    it("exposes each user on a ClusterIP Service named from the id, and outputs the whole users map as a secret", async () => {
        const { outputs, resolved } = await run(base);
        const m = byName();
        for (const id of ["alice", "bob", "carol"]) {
            const svc = inputsOf(get(m, T.service, `copilot-u-${id}`));
            expect(svc.spec).toMatchObject({ type: "ClusterIP", selector: { "copilot-fleet.github.com/user": id }, ports: [{ port: 4321, targetPort: "jsonrpc" }] });
        }
        expect(resolved).toMatchObject({ platform: "kubernetes", mode: "per-user", namespace: "copilot-fleet", port: 4321, sessionStatePath: "/home/copilot/.copilot/session-state" });
        const users = resolved.users as Record<string, UserOutput>;
        expect(Object.keys(users).sort()).toEqual(["alice", "bob", "carol"]);
        expect(users.bob).toEqual({
            endpoint: "copilot-u-bob.copilot-fleet.svc.cluster.local:4321",
            connectionToken: tokenOf(m, "bob"),
            selector: "app.kubernetes.io/name=copilot-cli,app.kubernetes.io/instance=copilot,app.kubernetes.io/component=server,copilot-fleet.github.com/user=bob",
            suspended: false,
            server: "copilot-u-bob",
        });
        expect(await pulumiMod.isSecret(outputs.users as pulumi.Output<unknown>)).toBe(true);
    });
});

describe("per-user fleet: stable identity", () => {
    it("adding a fourth user leaves the first three's resources identical; removing one leaves the others identical", async () => {
        await run({ ...base, users: '["a","b","c"]' });
        const abc = Object.fromEntries(["a", "b", "c"].map((id) => [id, userRecords(id)]));
        for (const id of ["a", "b", "c"]) expect(Object.keys(abc[id])).toHaveLength(7);
        rec.clear();
        await run({ ...base, users: '["a","b","c","d"]' });
        for (const id of ["a", "b", "c"]) expect(userRecords(id), `user ${id} after adding d`).toEqual(abc[id]);
        expect(Object.keys(userRecords("d"))).toHaveLength(7);
        rec.clear();
        // Removed from the front, and reordered: position must not matter.
        await run({ ...base, users: '["c","b"]' });
        for (const id of ["b", "c"]) expect(userRecords(id), `user ${id} after removing a`).toEqual(abc[id]);
        expect(userRecords("a")).toEqual({});
    });

    it("keeps URNs stable across user lists (same parent chain, type and name)", async () => {
        const ns = "copilot-fleet";
        const cfg = (users: string) => parseFleetConfig({ ...base, users });
        const urns = async (users: string, fleetName: string) => {
            const c = cfg(users);
            const fleet = new perUser.PerUserFleet(fleetName, { namespace: ns, users: [...c.users], image: IMAGE, cliVersion: c.cliVersion, githubToken: c.credential.kind === "githubToken" ? c.credential.githubToken : undefined });
            const out: Record<string, string | undefined> = {};
            for (const [id, s] of fleet.servers) out[id] = await promiseOf(s.urn);
            return out;
        };
        const first = await urns('["a","b","c"]', "fleet");
        const second = await urns('["d","c","a","b"]', "fleet");
        expect(first.a).toMatch(/copilot-fleet:index:PerUserFleet\$copilot-fleet:index:UserServer::fleet-u-a$/);
        for (const id of ["a", "b", "c"]) expect(second[id]).toBe(first[id]);
        await settle();
    });

    it("names every object from the id; ids starting with a digit still give valid Service names", () => {
        expect(perUser.userObjectName("copilot", "alice", "service")).toBe("copilot-u-alice");
        expect(perUser.userObjectName("copilot", "1abc", "service")).toBe("copilot-u-1abc");
        expect(perUser.userObjectName("copilot", "alice", "claim")).toBe("copilot-u-alice-state");
        const longest = "a".repeat(39) + "z";
        for (const kind of Object.keys(perUser.USER_OBJECT_SUFFIX) as (keyof typeof perUser.USER_OBJECT_SUFFIX)[]) {
            const n = perUser.userObjectName("copilot", longest, kind);
            expect(n, kind).toContain(longest); // never cut with the default fleet name
            expect(n.length).toBeLessThanOrEqual(63);
            expect(n).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
        }
    });

    it("cuts and hashes names only when they would pass 63 characters, stably and without collisions", () => {
        const fleet = "a-rather-long-fleet-name-x"; // 26 characters
        const id1 = "team-platform-engineering-" + "x".repeat(13) + "1";
        const id2 = "team-platform-engineering-" + "x".repeat(13) + "2";
        const n1 = perUser.userObjectName(fleet, id1, "secret");
        const n2 = perUser.userObjectName(fleet, id2, "secret");
        expect(n1).not.toBe(n2);
        expect(n1).toBe(perUser.userObjectName(fleet, id1, "secret"));
        for (const n of [n1, n2]) {
            expect(n.length).toBeLessThanOrEqual(63);
            expect(n).toMatch(/^a-rather-long-fleet-name-x-u-team-platform-[-a-z]*[0-9a-f]{8}-credentials$/);
        }
        expect(perUser.perUserNameProblems(fleet, [id1, id2])).toEqual([]);
    });

    it("refuses duplicate ids, bad ids and fleet names that cannot lead a Service name", async () => {
        expect(perUser.perUserNameProblems("copilot", ["alice", "bob", "alice"])).toEqual([
            { propertyPath: "users[2].id", reason: '"alice" appears more than once; each user id must be unique' },
        ]);
        expect(perUser.perUserNameProblems("copilot", ["Alice"])).toEqual([{ propertyPath: "users[0].id", reason: '"Alice" is not a lowercase DNS label' }]);
        expect(perUser.perUserNameProblems("9fleet", ["a"])[0].reason).toContain("must start with a letter");
        const c = parseFleetConfig(base);
        expect(
            () => new perUser.PerUserFleet("copilot", { namespace: "ns", users: [...c.users, c.users[0]], image: IMAGE, cliVersion: "1.0.102", githubToken: c.credential.kind === "githubToken" ? c.credential.githubToken : undefined }),
        ).toThrow('PerUserFleet copilot: users[3].id: "alice" appears more than once; each user id must be unique');
        await settle();
    });

    it("the config refuses bad and duplicate ids before any resource is registered", async () => {
        await expect(run({ ...base, users: '["alice","alice"]' })).rejects.toThrow('user id "alice" appears more than once');
        await expect(run({ ...base, users: '["Bob_1"]' })).rejects.toThrow('users[0].id "Bob_1" is not accepted');
        await expect(run({ ...base, users: JSON.stringify(["x".repeat(41)]) })).rejects.toThrow("at most 40 characters");
        expect(rec.resources).toEqual([]);
    });
});

describe("per-user fleet: suspend, credentials, exposure", () => {
    it("a suspended user scales to zero; claim, Secret and token are kept with the same names and inputs", async () => {
        await run({ ...base, users: '["alice","bob"]' });
        const before = userRecords("bob");
        rec.clear();
        const { resolved } = await run({ ...base, users: '["alice",{"id":"bob","suspended":true}]' });
        const after = userRecords("bob");
        const m = byName();
        expect(inputsOf(get(m, T.deployment, "copilot-u-bob")).spec.replicas).toBe(0);
        expect(inputsOf(get(m, T.deployment, "copilot-u-alice")).spec.replicas).toBe(1);
        for (const key of [`${T.pvc} copilot-u-bob-state`, `${T.secret} copilot-u-bob-credentials`, `${T.password} copilot-u-bob-connection-token`]) {
            expect(after[key], key).toEqual(before[key]);
        }
        // Only the replica count changed.
        const d = (r: Record<string, { inputs: unknown }>) => JSON.parse(JSON.stringify(r[`${T.deployment} copilot-u-bob`].inputs)) as Obj;
        const changed = d(after);
        changed.spec.replicas = 1;
        expect(changed).toEqual(d(before));
        const users = resolved.users as Record<string, UserOutput>;
        expect(users.bob).toMatchObject({ suspended: true, endpoint: "copilot-u-bob.copilot-fleet.svc.cluster.local:4321", connectionToken: tokenOf(m, "bob") });
        expect(users.alice.suspended).toBe(false);
    });

    it("uses a user's own GitHub token for that user only, the service token for the rest", async () => {
        await run({ ...base, users: '[{"id":"alice","githubToken":"gho_alice_own"},"bob"]' });
        const m = byName();
        expect(inputsOf(get(m, T.secret, "copilot-u-alice-credentials")).stringData["github-token"]).toBe("gho_alice_own");
        expect(inputsOf(get(m, T.secret, "copilot-u-bob-credentials")).stringData["github-token"]).toBe(SERVICE_TOKEN);
        for (const r of rec.resources) {
            const isAliceSecret = r.type === T.secret && r.name === "copilot-u-alice-credentials";
            expect(JSON.stringify(r.inputs).includes("gho_alice_own"), `${r.type} ${r.name}`).toBe(isAliceSecret);
        }
    });

    it("with BYOK, only a user with their own GitHub token holds one; the others hold no model credential", async () => {
        const provider = JSON.stringify({ baseUrl: "https://m.example.com/v1", model: "gpt-4.1", apiKey: "sk-secret" });
        const { resolved } = await run({ platform: "kubernetes", mode: "per-user", image: IMAGE, provider, users: '[{"id":"alice","githubToken":"gho_alice_own"},"bob"]' });
        const m = byName();
        expect(Object.keys(inputsOf(get(m, T.secret, "copilot-u-bob-credentials")).stringData)).toEqual(["connection-token"]);
        expect((container(get(m, T.deployment, "copilot-u-bob")).env as Obj[]).map((e) => e.name)).not.toContain("COPILOT_GITHUB_TOKEN");
        expect(inputsOf(get(m, T.secret, "copilot-u-alice-credentials")).stringData["github-token"]).toBe("gho_alice_own");
        expect((container(get(m, T.deployment, "copilot-u-alice")).env as Obj[]).find((e) => e.name === "COPILOT_GITHUB_TOKEN")?.valueFrom.secretKeyRef).toEqual({
            name: "copilot-u-alice-credentials",
            key: "github-token",
        });
        for (const r of rec.resources) expect(JSON.stringify(r.inputs)).not.toContain("sk-secret");
        expect(resolved.provider).toMatchObject({ baseUrl: "https://m.example.com/v1", model: "gpt-4.1" });
    });

    it("internal exposure: a private LoadBalancer per user, same annotations and ranges as the shared fleet", async () => {
        const { resolved } = await run({ ...base, users: '["alice","bob"]', exposure: "internal", allowedCidrs: '["10.20.0.0/16"]' });
        const m = byName();
        const svc = inputsOf(get(m, T.service, "copilot-u-alice"));
        expect(svc.spec).toMatchObject({ type: "LoadBalancer", externalTrafficPolicy: "Local", loadBalancerSourceRanges: ["10.20.0.0/16"] });
        expect(svc.metadata.annotations).toMatchObject({ "service.beta.kubernetes.io/azure-load-balancer-internal": "true" });
        const np = inputsOf(get(m, T.policy, "copilot-u-alice"));
        expect(np.spec.ingress[0].from).toEqual([
            { namespaceSelector: {}, podSelector: { matchLabels: { "copilot-fleet.github.com/client": "copilot", "copilot-fleet.github.com/user": "alice" } } },
            { ipBlock: { cidr: "10.20.0.0/16" } },
        ]);
        expect((resolved.users as Record<string, UserOutput>).bob.endpoint).toBe(`${MOCK_LB_IP}:4321`);
    });

    it("refuses redis in per-user mode on Kubernetes", async () => {
        await expect(run({ ...base, redis: "true" })).rejects.toThrow('redis: true is not accepted with mode "per-user"');
        expect(rec.resources).toEqual([]);
    });
});

describe("withoutPromiseStacks", () => {
    it("turns stack capture off only while building, and restores it on return and on throw", () => {
        const before = Error.stackTraceLimit;
        const seen: number[] = [];
        expect(perUser.withoutPromiseStacks(() => (seen.push(Error.stackTraceLimit), 7))).toBe(7);
        expect(() =>
            perUser.withoutPromiseStacks(() => {
                seen.push(Error.stackTraceLimit);
                throw new Error("boom");
            }),
        ).toThrow("boom");
        expect(seen).toEqual([0, 0]);
        expect(Error.stackTraceLimit).toBe(before);
    });
});

