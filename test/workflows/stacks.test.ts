/**
 * CI previews and deploys the example environment stacks, never the laptop `dev` stack (the local
 * Docker engine, which a runner is not), and those stacks' committed config stays valid offline: each
 * Pulumi.<stack>.yaml goes through the program's own parser with the secret the workflows set.
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CONFIG_KEYS, parseFleetConfig, SECRET_CONFIG_KEYS, type ConfigKey, type RawConfig } from "../../components/config";

const ROOT = path.join(__dirname, "../..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const PREFIX = "copilot-fleet:";

type Yaml = unknown;
const load = (file: string): Yaml => parseYaml(readFileSync(file, "utf8")) as Yaml;

/** Every stack a workflow names: `stack:` / `stack-name:` values and `matrix.stack` entries. */
function stacksNamed(doc: Yaml): string[] {
    const found: string[] = [];
    const walk = (node: Yaml, key?: string): void => {
        if (Array.isArray(node)) node.forEach((n) => walk(n, key));
        else if (node !== null && typeof node === "object") for (const [k, v] of Object.entries(node)) walk(v, k);
        else if (typeof node === "string" && (key === "stack" || key === "stack-name")) found.push(node);
    };
    walk(doc);
    return found;
}

const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const matrixStacks = (file: string, job: string): string[] => {
    const strategy = (load(path.join(WORKFLOWS, file)) as { jobs: Record<string, { strategy: { matrix: { stack?: string[]; include?: { stack: string }[] } } }> }).jobs[job].strategy.matrix;
    return strategy.stack ?? (strategy.include ?? []).map((i) => i.stack);
};
const deployed = matrixStacks("deploy.yml", "deploy");
const previewed = matrixStacks("preview.yml", "preview");

/** A stack file's `copilot-fleet:` keys as Pulumi hands them to the program (objects as JSON text). */
function rawConfig(stack: string): { raw: RawConfig; keys: string[]; text: string } {
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    const text = readFileSync(file, "utf8");
    const config = ((load(file) as { config?: Record<string, unknown> }).config ?? {});
    const raw: RawConfig = {};
    const keys: string[] = [];
    for (const [k, v] of Object.entries(config)) {
        if (!k.startsWith(PREFIX)) continue;
        const key = k.slice(PREFIX.length);
        keys.push(key);
        raw[key as ConfigKey] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return { raw, keys, text };
}

describe("workflows and stacks", () => {
    it.each(workflowFiles)("%s never names the dev stack", (file) => {
        const text = readFileSync(path.join(WORKFLOWS, file), "utf8");
        expect(stacksNamed(load(path.join(WORKFLOWS, file))).filter((s) => /(^|\/)dev$/.test(s))).toEqual([]);
        expect(text).not.toMatch(/stack(-name)?:\s*["']?([\w.-]+\/)?dev["']?\s*$/m);
    });

    it("the check can fail: a workflow that deploys dev is caught", () => {
        expect(stacksNamed(parseYaml("jobs:\n  a:\n    with:\n      stack: dev\n"))).toEqual(["dev"]);
    });

    it("deploy and preview cover the same stacks, each with a committed Pulumi.<stack>.yaml", () => {
        expect(deployed.length).toBeGreaterThan(0);
        expect([...previewed].sort()).toEqual([...deployed].sort());
        for (const stack of deployed) expect(existsSync(path.join(ROOT, `Pulumi.${stack}.yaml`)), stack).toBe(true);
        expect(deployed).not.toContain("dev");
    });

    it("both workflows set the secret the stack files leave out", () => {
        for (const file of ["deploy-stack.yml", "preview.yml"]) {
            expect(readFileSync(path.join(WORKFLOWS, file), "utf8")).toContain("pulumi config set --secret --stack \"$STACK\" githubToken");
        }
    });
});

describe.each(deployed)("Pulumi.%s.yaml", (stack) => {
    const { raw, keys, text } = rawConfig(stack);

    it("names only keys the program reads", () => {
        expect(keys.filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k))).toEqual([]);
    });

    it("holds no secret: no secret key, no encrypted value", () => {
        expect(keys.filter((k) => (SECRET_CONFIG_KEYS as readonly string[]).includes(k))).toEqual([]);
        expect(text).not.toMatch(/secure:/);
    });

    it("parses with the program's config parser, given the githubToken the workflow sets", () => {
        const config = parseFleetConfig({ ...raw, githubToken: "placeholder-service-token" });
        expect(["kubernetes", "aci"]).toContain(config.platform);
    });

    it("the check can fail: without the workflow's secret it is refused", () => {
        expect(() => parseFleetConfig(raw)).toThrow(/githubToken/);
    });
});
