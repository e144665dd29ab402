/**
 * The real engine moves a stack made under the former component tokens onto the new ones
 * (components/contract/types.ts) without creating or deleting anything, down to a grandchild, the
 * nesting a per-user fleet has (PerUserFleet > UserServer > its objects). A program of plain
 * components (no provider plugin needed) registers the former tokens; the next program registers
 * `componentType(...)` with `withFormerType(...)`, compiled from the repository's source. The full
 * resource sets are test/tokenAliases.test.ts's, under mocks; this checks the engine's side.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, run } from "../helpers/containers";
import { changeSummary, engine, EngineStack } from "../helpers/engine";

const FORMER = `
const pulumi = require("@pulumi/pulumi");
const fleet = new pulumi.ComponentResource("copilot-fleet:kubernetes:PerUserFleet", "copilot", {});
const user = new pulumi.ComponentResource("copilot-fleet:kubernetes:UserServer", "copilot-u-alice", {}, { parent: fleet });
new pulumi.ComponentResource("acme:test:Leaf", "copilot-u-alice-state", {}, { parent: user });
`;
const CURRENT = `
const pulumi = require("@pulumi/pulumi");
const { componentType, withFormerType } = require("./types.js");
const fleet = new pulumi.ComponentResource(componentType("PerUserFleet"), "copilot", {}, withFormerType("copilot-fleet:kubernetes:PerUserFleet"));
const user = new pulumi.ComponentResource(componentType("UserServer"), "copilot-u-alice", {}, withFormerType("copilot-fleet:kubernetes:UserServer", { parent: fleet }));
new pulumi.ComponentResource("acme:test:Leaf", "copilot-u-alice-state", {}, { parent: user });
`;

let project: string;
let stack: EngineStack;

beforeAll(async () => {
    project = mkdtempSync(path.join(os.tmpdir(), "cf-token-aliases-"));
    writeFileSync(path.join(project, "Pulumi.yaml"), "name: copilot-fleet\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "token-aliases", version: "1.0.0", private: true, main: "index.js" }));
    symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(project, "node_modules"));
    const source = readFileSync(path.join(REPO_ROOT, "components", "contract", "types.ts"), "utf8");
    writeFileSync(path.join(project, "types.js"), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText);
    stack = new EngineStack({ stack: "token-aliases", projectDir: project });
    await stack.create();
}, 120_000);

afterAll(() => {
    stack?.remove();
    if (project) rmSync(project, { recursive: true, force: true });
});

describe("the real engine follows the former-token aliases", () => {
    it("an up under the former tokens, then a preview and up under the new ones change nothing", async () => {
        writeFileSync(path.join(project, "index.js"), FORMER);
        expect(changeSummary((await stack.up({ timeoutMs: 300_000 })).stdout)).toMatchObject({ create: 4 });
        writeFileSync(path.join(project, "index.js"), CURRENT);
        const preview = changeSummary((await stack.preview([], { timeoutMs: 300_000 })).stdout);
        expect(preview).toEqual({ same: 4 });
        await stack.up({ timeoutMs: 300_000 });
        // `pulumi stack export` takes no --config-file, which EngineStack.pulumi adds, so it runs here.
        const exported = await run((await engine()).bin, ["stack", "export", "--stack", stack.stack, "--non-interactive"], { cwd: project, env: stack.env(), timeoutMs: 60_000 });
        const state = JSON.parse(exported.stdout) as { deployment: { resources?: { urn: string }[] } };
        const urns = (state.deployment.resources ?? []).map((r) => r.urn).sort();
        expect(urns).toEqual([
            "urn:pulumi:token-aliases::copilot-fleet::copilot-fleet:index:PerUserFleet$copilot-fleet:index:UserServer$acme:test:Leaf::copilot-u-alice-state",
            "urn:pulumi:token-aliases::copilot-fleet::copilot-fleet:index:PerUserFleet$copilot-fleet:index:UserServer::copilot-u-alice",
            "urn:pulumi:token-aliases::copilot-fleet::copilot-fleet:index:PerUserFleet::copilot",
            "urn:pulumi:token-aliases::copilot-fleet::pulumi:pulumi:Stack::copilot-fleet-token-aliases",
        ]);
    }, 600_000);

    it("without the aliases the same change would replace all three (the check can fail)", async () => {
        writeFileSync(path.join(project, "index.js"), FORMER);
        expect(changeSummary((await stack.preview([], { timeoutMs: 300_000 })).stdout)).toMatchObject({ create: 3, delete: 3 });
    }, 600_000);
});
