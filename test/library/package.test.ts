/**
 * The library as consumers load it: the built dist/ through the package's own `exports` map (a
 * self-reference, `require("copilot-fleet/kubernetes")`), each entry in a fresh Node process so
 * nothing another entry loaded leaks in. A platform entry must never load another platform's
 * provider SDK: @pulumi/azure-native alone is 136 MB.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildLibrary, cleanEnv, ROOT, run } from "./build";

interface Exported {
    types: string;
    default: string;
}
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; exports: Record<string, Exported | string> };

/** Entry → provider SDKs it must not load. */
const FORBIDDEN: Record<string, readonly string[]> = {
    ".": ["azure-native", "docker", "kubernetes"],
    "./kubernetes": ["azure-native", "docker"],
    "./aci": ["docker", "kubernetes"],
    "./docker": ["azure-native", "kubernetes"],
    "./image": ["azure-native", "kubernetes"],
};
/** Entry → the provider SDK it does load (so the check above is not vacuous). */
const OWN_PROVIDER: Record<string, string> = { ".": "pulumi", "./kubernetes": "kubernetes", "./aci": "azure-native", "./docker": "docker", "./image": "docker" };
/** Entry → a class or function it must export. */
const EXPECTED_EXPORT: Record<string, string> = {
    ".": "parseFleetConfig",
    "./kubernetes": "SharedFleet",
    "./aci": "AciSharedFleet",
    "./docker": "DockerSharedFleet",
    "./image": "CopilotImage",
};

/** Loads `specifier` in a child process and lists the @pulumi packages whose files were loaded. */
async function loadIn(specifier: string): Promise<{ pulumiPackages: string[]; exports: string[] }> {
    const script = `
const m = require(${JSON.stringify(specifier)});
const pkgs = new Set();
for (const f of Object.keys(require.cache)) { const x = /node_modules[\\\\/]@pulumi[\\\\/]([^\\\\/]+)[\\\\/]/.exec(f); if (x) pkgs.add(x[1]); }
console.log(JSON.stringify({ pulumiPackages: [...pkgs].sort(), exports: Object.keys(m) }));`;
    const { stdout } = await run(process.execPath, ["-e", script], { cwd: ROOT, env: cleanEnv(), maxBuffer: 16 << 20 });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { pulumiPackages: string[]; exports: string[] };
}

beforeAll(async () => {
    await buildLibrary();
}, 120_000);

describe("package.json exports", () => {
    it("has exactly the neutral entry and one per platform, plus the image", () => {
        expect(Object.keys(pkg.exports).filter((k) => k !== "./package.json").sort()).toEqual(Object.keys(FORBIDDEN).sort());
    });
    for (const entry of Object.keys(FORBIDDEN)) {
        it(`${entry}: its JavaScript and declarations are built`, () => {
            const e = pkg.exports[entry] as Exported;
            expect(existsSync(path.join(ROOT, e.default))).toBe(true);
            expect(existsSync(path.join(ROOT, e.types))).toBe(true);
        });
        it(`${entry}: loads none of ${FORBIDDEN[entry].join(", ")}`, async () => {
            const specifier = entry === "." ? pkg.name : `${pkg.name}/${entry.slice(2)}`;
            const loaded = await loadIn(specifier);
            expect(loaded.exports).toContain(EXPECTED_EXPORT[entry]);
            expect(loaded.pulumiPackages).toContain(OWN_PROVIDER[entry]);
            for (const p of FORBIDDEN[entry]) expect(loaded.pulumiPackages).not.toContain(p);
        });
    }
});
