/**
 * Which file `pulumi up` runs. Pulumi's Node.js runner (@pulumi/pulumi cmd/run) takes Pulumi.yaml's
 * `main` when set; otherwise package.json's `exports["."]`, and only then `main`. Since the package
 * became a library its `exports["."]` is the library entry, so without `main: index.ts` in
 * Pulumi.yaml a real `pulumi preview` planned one resource (the stack) and exported library constants
 * instead of the fleet (seen with the source-built engine; with the fix it planned all 20).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

const project = parseYaml(readFileSync("Pulumi.yaml", "utf8")) as { main?: string };
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { main?: string; exports?: unknown };

/** The runner's choice, as in @pulumi/pulumi 3.248 cmd/run/run.js. */
function runnerEntrypoint(): string {
    if (project.main && project.main !== ".") return project.main;
    if (typeof pkg.exports === "string") return pkg.exports;
    if (pkg.exports && typeof pkg.exports === "object") {
        const dot = (pkg.exports as Record<string, unknown>)["."];
        if (typeof dot === "string") return dot;
        if (dot && typeof dot === "object") {
            const o = dot as Record<string, string | undefined>;
            return o.default ?? o.require ?? o.import ?? "";
        }
    }
    return pkg.main ?? "index.js";
}

describe("the program pulumi runs", () => {
    it("is index.ts, the turnkey program, not the library entry", () => {
        expect(runnerEntrypoint()).toBe("index.ts");
    });
    it("the guard matters: without Pulumi.yaml's main the runner would take the library entry", () => {
        expect(pkg.exports).toBeDefined();
        const saved = project.main;
        delete project.main;
        try {
            expect(runnerEntrypoint()).not.toBe("index.ts");
        } finally {
            project.main = saved;
        }
    });
});
