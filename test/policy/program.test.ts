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
    // Mocks first, then the program (DESIGN.md: otherwise outputs never resolve).
    type Program = () => Promise<Record<string, unknown>>;
    const mod: unknown = await import("../../index");
    program = (typeof mod === "function" ? mod : (mod as { default: Program }).default) as Program;
});

afterEach(() => rec.clear());

async function record(config: Record<string, string>): Promise<MockRecorder["resources"]> {
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`copilot-fleet:${k}`, v])), []);
    await program();
    await settle(200);
    return [...rec.resources];
}

const base = { githubToken: "gho_test", image: "registry.example.com/copilot-cli:1.0.102" };
const publicOk = { "copilot-network-no-public-endpoint": { allowPublicEndpoints: true } };

describe("our program passes every policy", () => {
    it.each([
        ["kubernetes shared (cluster)", { platform: "kubernetes", mode: "shared", replicas: "3" }, {}],
        ["kubernetes shared (internal LB)", { platform: "kubernetes", mode: "shared", replicas: "3", exposure: "internal" }, {}],
        ["kubernetes shared (public LB, opted in)", { platform: "kubernetes", mode: "shared", exposure: "public", allowedCidrs: '["203.0.113.0/24"]' }, publicOk],
        ["kubernetes per-user", { platform: "kubernetes", mode: "per-user", users: '["alice","bob"]' }, {}],
        ["docker shared", { platform: "docker", mode: "shared", replicas: "2" }, {}],
        ["docker per-user", { platform: "docker", mode: "per-user", users: '["alice","bob"]' }, {}],
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

    it("the harness does report a violation when the program's output breaks a rule", async () => {
        const resources = await record({ ...base, platform: "kubernetes", mode: "shared", exposure: "public", allowedCidrs: '["203.0.113.0/24"]' });
        // Without the opt-in the public load balancer must be flagged.
        const found = await violationsOver(resources);
        expect(found.some((v) => v.startsWith("copilot-network-no-public-endpoint"))).toBe(true);
    }, 60_000);
});
