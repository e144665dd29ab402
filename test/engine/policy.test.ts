/**
 * The policy pack through the real engine: `pulumi preview --policy-pack policy`, as CI runs it. The
 * engine launches the pack through the Node.js language host's RunPlugin (kind analyzer), the pack
 * serves the Analyzer protocol, and every resource the program plans is checked by it. The stacks use
 * a prebuilt `image`, so a preview needs neither a cluster nor a Docker engine (the providers plan
 * without one).
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changeSummary, EngineStack } from "../helpers/engine";

const IMAGE = "ghcr.io/example/copilot-cli:1.0.102";
const TOKEN = "engine-test-github-token-not-real";
const PACK = "copilot-fleet@v0.1.0";
const TIMEOUT = 600_000;

/** The "Policies:" block of a preview's output: the pack's verdict and its violations. */
function policiesBlock(output: string): string {
    const at = output.indexOf("Policies:");
    if (at < 0) throw new Error(`no Policies: section (did the engine load the pack?):\n${output.slice(-3000)}`);
    const end = output.indexOf("\nDiagnostics:", at);
    return output.slice(at, end < 0 ? undefined : end);
}

/**
 * `pulumi preview --policy-pack policy [extra]` in the default display. Not the helper's `preview()`:
 * its `--diff` display prints no "Policies:" section (violations appear inline among the diffs and the
 * packs in a "Policy Packs run:" table), so the verdict below would have nothing to read.
 */
function previewWithPolicies(s: EngineStack, extra: readonly string[] = [], check = true) {
    return s.pulumi(["preview", "--policy-pack", "policy", ...extra], { check });
}

function passed(output: string): void {
    const block = policiesBlock(output);
    expect(block).toContain(`✅ ${PACK} (local: policy)`);
    expect(block).not.toContain("[mandatory]");
    expect(block).not.toContain("[advisory]");
}

describe("pulumi preview --policy-pack policy (real engine)", () => {
    const stacks: EngineStack[] = [];
    const stack = (name: string, config: Record<string, string>): EngineStack => {
        const s = new EngineStack({
            stack: name,
            config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`copilot-fleet:${k}`, v])),
            secrets: { "copilot-fleet:githubToken": TOKEN },
        });
        stacks.push(s);
        return s;
    };
    const k8sShared = stack("policy-k8s-shared", { platform: "kubernetes", mode: "shared", replicas: "2", image: IMAGE });
    const k8sPerUser = stack("policy-k8s-peruser", { platform: "kubernetes", mode: "per-user", users: '["alice","bob"]', image: IMAGE });
    const dockerShared = stack("policy-docker-shared", { platform: "docker", mode: "shared", replicas: "2", image: IMAGE });
    const k8sPublic = stack("policy-k8s-public", {
        platform: "kubernetes", mode: "shared", replicas: "2", image: IMAGE, exposure: "public", allowedCidrs: '["203.0.113.0/24"]',
    });

    beforeAll(async () => {
        for (const s of stacks) await s.create();
    }, TIMEOUT);
    afterAll(() => {
        for (const s of stacks) s.remove();
    });

    it("passes every policy on a Kubernetes shared fleet", async () => {
        const r = await previewWithPolicies(k8sShared);
        const out = r.stdout + r.stderr;
        passed(out);
        // The pack saw the whole fleet, not an empty program.
        expect(out).toMatch(/kubernetes:apps\/v1:Deployment\s+copilot\s+create/);
        expect(changeSummary(out).create).toBeGreaterThanOrEqual(19);
    }, TIMEOUT);

    it("passes every policy on a Kubernetes per-user fleet", async () => {
        const r = await previewWithPolicies(k8sPerUser);
        const out = r.stdout + r.stderr;
        passed(out);
        expect(out).toMatch(/kubernetes:apps\/v1:Deployment\s+\S*alice\S*\s+create/);
        expect(out).toMatch(/kubernetes:apps\/v1:Deployment\s+\S*bob\S*\s+create/);
    }, TIMEOUT);

    it("finds no violation on a Docker shared fleet; what preview cannot evaluate there is reported as such", async () => {
        const r = await previewWithPolicies(dockerShared);
        const out = r.stdout + r.stderr;
        expect(out).toMatch(/docker:index:Container\s+copilot-1\s+create/);
        const block = policiesBlock(out);
        expect(block).not.toContain("[mandatory]");
        // On Docker the servers' envs carry the generated tokens and the Redis and HAProxy containers
        // take their image from a docker.RemoteImage, so those inputs are unknown until `up` creates
        // them. @pulumi/policy then reports the rules that read them as "can't run ... during preview"
        // (advisory) instead of deciding; `up` evaluates them with the real values. Every entry must be
        // such a note: a real finding would fail here.
        const entries = block.split("\n").filter((l) => /^\s*- \[(advisory|mandatory)\]/.test(l));
        const lines = block.split("\n");
        for (const e of entries) {
            const next = lines[lines.indexOf(e) + 1] ?? "";
            expect(next, e).toMatch(/can't run policy '[^']+' from policy pack '[^']+' during preview: .* can't be known during preview/);
        }
    }, TIMEOUT);

    it("fails a public load balancer with copilot-network-no-public-endpoint, and passes it once the stack opts in", async () => {
        const r = await previewWithPolicies(k8sPublic, [], false);
        const out = r.stdout + r.stderr;
        expect(r.code).not.toBe(0);
        const block = policiesBlock(out);
        expect(block).toContain(`❌ ${PACK} (local: policy)`);
        expect(block).toMatch(/\[mandatory\].*copilot-network-no-public-endpoint\s+\(kubernetes:core\/v1:Service: copilot\)/);
        // Only that policy fails: every violation line names it.
        const violations = block.split("\n").filter((l) => l.includes("[mandatory]") || l.includes("[advisory]"));
        expect(violations.length).toBeGreaterThan(0);
        for (const v of violations) expect(v).toContain("copilot-network-no-public-endpoint");

        // The documented opt-in (docs/policy.md), through --policy-pack-config: the same stack passes.
        const configFile = path.join(k8sPublic.dir, "policy-config.json");
        writeFileSync(configFile, JSON.stringify({ "copilot-network-no-public-endpoint": { allowPublicEndpoints: true } }));
        const ok = await previewWithPolicies(k8sPublic, ["--policy-pack-config", configFile]);
        passed(ok.stdout + ok.stderr);
    }, TIMEOUT * 2);
});
