/**
 * A Pulumi YAML program that uses the component package, through the real engine: the YAML language
 * host (pulumi-language-yaml, built by scripts/pulumi-engine.sh) asks the engine for the
 * copilot-fleet schema, which starts plugin/ through our Node.js language host (RunPlugin), and each
 * component is constructed in that plugin process (Construct). The program deploys to Kubernetes
 * with a prebuilt image, so `pulumi preview` needs no cluster. A real `up` needs an API server.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/containers";
import { changeSummary, engine, EngineStack } from "../helpers/engine";

const IMAGE = "ghcr.io/example/copilot-cli:1.0.102";
const TIMEOUT = 600_000;

/**
 * The consumer's Pulumi.yaml. `packages:` is the entry `pulumi package add <repository>/plugin`
 * writes; pulumi-language-yaml v1.25.0 (the newest the Go proxy serves) has no `Link` RPC, which the
 * 3.248 CLI calls at the end of `package add`, so the test writes the entry itself.
 */
function program(fleetProps: string): string {
    return `name: yaml-consumer
runtime: yaml
packages:
  copilot-fleet: ${path.join(REPO_ROOT, "plugin")}
config:
  githubToken:
    type: string
    secret: true
resources:
  fleet:
    type: copilot-fleet:index:SharedFleet
    properties:
${fleetProps}
  users:
    type: copilot-fleet:index:PerUserFleet
    properties:
      namespace: acme-copilot
      image: ${IMAGE}
      users:
        - id: alice
        - id: bob
          suspended: true
outputs:
  endpoint: \${fleet.endpoint}
  connectionToken: \${fleet.connectionToken}
`;
}

const GOOD = `      namespace: acme-copilot
      image: ${IMAGE}
      replicas: 2
      githubToken: \${githubToken}`;

function project(props: string): { dir: string; stack: EngineStack } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cf-yaml-consumer-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), program(props));
    const stack = new EngineStack({ stack: "yaml", projectDir: dir, secrets: { "yaml-consumer:githubToken": "engine-test-github-token-not-real" } });
    return { dir, stack };
}

describe("a Pulumi YAML program using the component package (real engine)", () => {
    const good = project(GOOD);
    const missingImage = project(GOOD.split("\n").filter((l) => !l.includes("image:")).join("\n"));

    beforeAll(async () => {
        const e = await engine();
        const yamlHost = path.join(path.dirname(e.bin), "pulumi-language-yaml");
        if (e.bin !== "pulumi" && !existsSync(yamlHost)) {
            throw new Error(`no ${yamlHost}: run \`bash scripts/pulumi-engine.sh --only yaml\``);
        }
        await good.stack.create();
        await missingImage.stack.create();
    }, TIMEOUT);
    afterAll(() => {
        for (const p of [good, missingImage]) {
            p.stack.remove();
            rmSync(p.dir, { recursive: true, force: true });
        }
    });

    it("previews both fleets, constructed by the plugin, with their Kubernetes objects", async () => {
        const r = await good.stack.pulumi(["preview"], { timeoutMs: TIMEOUT });
        const out = r.stdout + r.stderr;
        // The plugin registers each component under the schema's own token (components/contract/types.ts), as the program asked.
        expect(out).toMatch(/copilot-fleet:index:SharedFleet\s+fleet\s+create/);
        expect(out).toMatch(/copilot-fleet:index:PerUserFleet\s+users\s+create/);
        expect(out).not.toMatch(/copilot-fleet:kubernetes:/);
        for (const child of ["Deployment\\s+fleet", "Deployment\\s+fleet-redis", "Deployment\\s+users-u-alice", "Deployment\\s+users-u-bob", "Service\\s+fleet"]) {
            expect(out).toMatch(new RegExp(`kubernetes:(apps|core)/v1:${child}\\s+create`));
        }
        expect(out).toMatch(/kubernetes:core\/v1:PersistentVolumeClaim\s+users-u-bob-state\s+create/);
        // The component's outputs reach the YAML program.
        expect(out).toMatch(/endpoint\s*:\s*"fleet\.acme-copilot\.svc\.cluster\.local:4321"/);
        expect(changeSummary(out).create).toBeGreaterThanOrEqual(30);
    }, TIMEOUT);

    it("refuses a fleet without its required image, from the served schema, before anything is planned", async () => {
        const r = await missingImage.stack.pulumi(["preview"], { timeoutMs: TIMEOUT, check: false });
        const out = r.stdout + r.stderr;
        expect(r.code).not.toBe(0);
        // Pulumi YAML type-checks the properties against the schema the plugin served.
        expect(out).toContain("Missing required property 'image'");
        expect(out).not.toMatch(/kubernetes:apps\/v1:Deployment\s+fleet\s+create/);
    }, TIMEOUT);
});
