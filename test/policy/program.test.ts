/**
 * Our defaults must pass our own guard rails: index.ts runs under mocks for each platform and mode,
 * every resource it registers goes through every resource policy (inputs, as `pulumi preview` sees
 * them) and the whole set through every stack policy (mocked outputs, as after the update), and no
 * policy may report a violation.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { installMocks, MockRecorder, RecordedResource, settle } from "../helpers/pulumiMocks";
import { resourcePolicies, stackPolicies } from "../../policy/policies";
import { FakeResource, runResourcePolicy, runStackPolicy } from "./util";

/** Every violation every policy reports over a recorded stack, as "policy: message". */
export async function violationsOver(resources: readonly RecordedResource[], config: Record<string, object> = {}): Promise<string[]> {
    const out: string[] = [];
    for (const policy of resourcePolicies) {
        for (const r of resources) {
            const run = await runResourcePolicy(policy, { type: r.type, name: r.name, props: r.inputs, opts: { additionalSecretOutputs: [...r.opts.additionalSecretOutputs] } }, config[policy.name] ?? {});
            out.push(...run.violations.map((v) => `${policy.name} on ${r.type}/${r.name}: ${v.message}`));
            out.push(...run.unknownReads.map((m) => `${policy.name} on ${r.type}/${r.name}: could not run: ${m}`));
        }
    }
    const stack: FakeResource[] = resources.map((r) => ({ type: r.type, name: r.name, props: r.state }));
    for (const policy of stackPolicies) {
        const run = await runStackPolicy(policy, stack, config[policy.name] ?? {});
        out.push(...run.violations.map((v) => `${policy.name}: ${v.message}`));
    }
    return out;
}

let rec: MockRecorder;
let program: () => Promise<Record<string, unknown>>;

beforeAll(async () => {
    rec = installMocks();
    // Mocks first, then the program (otherwise outputs never resolve).
    type Program = () => Promise<Record<string, unknown>>;
    const mod: unknown = await import("../../index");
    program = (typeof mod === "function" ? mod : (mod as { default: Program }).default) as Program;
});

afterEach(() => rec.clear());

async function record(config: Record<string, string | undefined>): Promise<MockRecorder["resources"]> {
    // An undefined value removes a base key (e.g. `image`, so the stack builds its own).
    const set = Object.entries(config).filter((e): e is [string, string] => e[1] !== undefined);
    pulumi.runtime.setAllConfig(Object.fromEntries(set.map(([k, v]) => [`copilot-fleet:${k}`, v])), []);
    await program();
    await settle(200);
    return [...rec.resources];
}

const base = { githubToken: "gho_test", image: "registry.example.com/copilot-cli:1.0.102" };
const publicOk = { "copilot-network-no-public-endpoint": { allowPublicEndpoints: true } };
const egressOk = { "copilot-network-egress-restricted": { allowedEgressCidrs: ["10.20.0.0/24", "10.30.0.5/32"] } };

describe("our program passes every policy", () => {
    it.each([
        ["kubernetes shared (cluster)", { platform: "kubernetes", mode: "shared", replicas: "3" }, {}],
        ["kubernetes shared (internal LB)", { platform: "kubernetes", mode: "shared", replicas: "3", exposure: "internal" }, {}],
        ["kubernetes shared (public LB, opted in)", { platform: "kubernetes", mode: "shared", exposure: "public", allowedCidrs: '["203.0.113.0/24"]' }, publicOk],
        ["kubernetes per-user", { platform: "kubernetes", mode: "per-user", users: '["alice","bob"]' }, {}],
        ["kubernetes per-user with idle suspend (suspender, RBAC, wake marks)", { platform: "kubernetes", mode: "per-user", users: '["alice",{"id":"bob","suspended":true}]', idleSuspendMinutes: "30" }, {}],
        ["docker per-user with idle suspend", { platform: "docker", mode: "per-user", users: '["alice","bob"]', idleSuspendMinutes: "30" }, {}],
        ["docker shared", { platform: "docker", mode: "shared", replicas: "2" }, {}],
        ["docker per-user", { platform: "docker", mode: "per-user", users: '["alice","bob"]' }, {}],
        ["aci shared (image built into the stack's registry)", { platform: "aci", mode: "shared", replicas: "3", image: undefined }, {}],
        ["aci shared (internal, prebuilt image)", { platform: "aci", mode: "shared", replicas: "2", exposure: "internal", allowedCidrs: '["10.50.0.0/16"]' }, {}],
        ["aci per-user", { platform: "aci", mode: "per-user", users: '["alice","bob","carol"]' }, {}],
        ["aci per-user with idle suspend (suspender group, identity, role, control subnet)", { platform: "aci", mode: "per-user", users: '["alice",{"id":"bob","suspended":true}]', idleSuspendMinutes: "30" }, {}],
        ["kubernetes shared, per-session credentials", { platform: "kubernetes", mode: "shared", githubToken: undefined, credentials: "perSession" }, {}],
        ["docker per-user, per-session credentials", { platform: "docker", mode: "per-user", users: '["alice","bob"]', githubToken: undefined, credentials: "perSession" }, {}],
        ["aci shared, per-session credentials", { platform: "aci", mode: "shared", replicas: "2", githubToken: undefined, credentials: "perSession" }, {}],
        [
            "kubernetes shared with egress allowances and a private BYOK endpoint (reviewed in the policy config)",
            { platform: "kubernetes", mode: "shared", githubToken: undefined, provider: '{"baseUrl":"http://10.30.0.5:8000/v1","model":"m"}', egressAllowedCidrs: '["10.20.0.0/24"]', telemetry: '{"otlpEndpoint":"http://otel-collector.monitoring:4318"}' },
            egressOk,
        ],
        ["kubernetes per-user with egress allowances", { platform: "kubernetes", mode: "per-user", users: '["alice","bob"]', egressAllowedCidrs: '["10.20.0.0/24"]' }, egressOk],
        ["aci shared with egress allowances and a private BYOK endpoint", { platform: "aci", mode: "shared", githubToken: undefined, provider: '{"baseUrl":"http://10.30.0.5:8000/v1","model":"m"}', egressAllowedCidrs: '["10.20.0.0/24"]' }, egressOk],
    ] as const)(
        "%s",
        async (_name, config, policyConfig) => {
            const resources = await record({ ...base, ...config });
            expect(resources.length).toBeGreaterThan(3);
            const found = await violationsOver(resources, policyConfig);
            expect(found).toEqual([]);
        },
        60_000,
    );

    it("the ACI groups are really checked: a plain token, a second share or a public IP on one replica is flagged", async () => {
        const resources = await record({ ...base, platform: "aci", mode: "shared", replicas: "3" });
        type Group = { containers: { environmentVariables: { name: string; value?: string; secureValue?: string }[] }[]; volumes: { azureFile?: { shareName: string } }[]; ipAddress: { type: string } };
        const broken = (change: (g: Group) => void): RecordedResource[] =>
            resources.map((r) => {
                if (r.name !== "copilot-2") return r;
                const g = JSON.parse(JSON.stringify(r.inputs)) as Group;
                change(g);
                return { ...r, inputs: g as unknown as Record<string, unknown>, state: g as unknown as Record<string, unknown> };
            });
        const plain = await violationsOver(
            broken((g) => {
                const e = g.containers[0].environmentVariables.find((x) => x.name === "COPILOT_CONNECTION_TOKEN");
                if (e) e.value = e.secureValue;
                if (e) delete e.secureValue;
            }),
        );
        expect(plain.some((v) => v.startsWith("copilot-secrets-no-plain-values on azure-native:containerinstance:ContainerGroup/copilot-2"))).toBe(true);
        const otherShare = await violationsOver(broken((g) => g.volumes.forEach((v) => v.azureFile && (v.azureFile.shareName = "other"))));
        expect(otherShare.some((v) => v.startsWith("copilot-storage-shared-session-state"))).toBe(true);
        const publicIp = await violationsOver(broken((g) => (g.ipAddress.type = "Public")));
        expect(publicIp.some((v) => v.startsWith("copilot-network-no-public-endpoint on azure-native:containerinstance:ContainerGroup/copilot-2"))).toBe(true);
    }, 60_000);

    it("egress is really checked on our output: without the reviewed allowance, or with a server policy's egress opened, the pack flags it", async () => {
        const allowances = { ...base, platform: "kubernetes", mode: "shared", egressAllowedCidrs: '["10.20.0.0/24"]' };
        const unreviewed = await violationsOver(await record(allowances));
        expect(unreviewed.filter((v) => v.startsWith("copilot-network-egress-restricted"))).toHaveLength(1);
        const resources = await record({ ...base, platform: "kubernetes", mode: "shared" });
        const opened = resources.map((r) => {
            if (r.name !== "copilot-server" || !r.type.endsWith(":NetworkPolicy")) return r;
            const np = JSON.parse(JSON.stringify(r.state)) as { spec: { egress: object[] } };
            np.spec.egress.push({ to: [{ ipBlock: { cidr: "169.254.169.254/32" } }] });
            return { ...r, state: np as unknown as Record<string, unknown> };
        });
        expect((await violationsOver(opened)).some((v) => v.startsWith("copilot-network-egress-restricted") && v.includes("169.254.169.254"))).toBe(true);
    }, 60_000);

    it("ACI egress is really checked on our output: a server NSG without its IMDS and VNet denies is flagged", async () => {
        const resources = await record({ ...base, platform: "aci", mode: "shared", replicas: "2", image: undefined });
        const stripped = resources.map((r) => {
            if (r.name !== "copilot-net-servers-nsg") return r;
            const nsg = JSON.parse(JSON.stringify(r.state)) as { securityRules: { name: string }[] };
            nsg.securityRules = nsg.securityRules.filter((x) => !["deny-imds-out", "deny-vnet-out", "deny-all-out"].includes(x.name));
            return { ...r, state: nsg as unknown as Record<string, unknown> };
        });
        const found = (await violationsOver(stripped)).filter((v) => v.startsWith("copilot-network-egress-restricted"));
        expect(found.some((v) => v.includes("AzurePlatformIMDS"))).toBe(true);
        expect(found.some((v) => v.includes("the virtual network"))).toBe(true);
    }, 60_000);

    it("the harness does report a violation when the program's output breaks a rule", async () => {
        const resources = await record({ ...base, platform: "kubernetes", mode: "shared", exposure: "public", allowedCidrs: '["203.0.113.0/24"]' });
        // Without the opt-in the public load balancer must be flagged.
        const found = await violationsOver(resources);
        expect(found.some((v) => v.startsWith("copilot-network-no-public-endpoint"))).toBe(true);
    }, 60_000);
});
