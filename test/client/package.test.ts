/**
 * @copilot-fleet/client as a backend gets it: `npm pack` the workspace, install the tarball and the
 * SDK peer into a fresh folder (docs/client.md's install line; no workspace, no repository node_modules),
 * then run the backend example there, taken from docs/client.md itself, against a real local fleet.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalFleet, type LocalFleet } from "../../smoke/local-fleet";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
const SDK_VERSION = "1.0.14";
const DOC = "docs/client.md";
const SECTION = "## Using a shared fleet from your backend";

/**
 * The environment without npm's own `npm_*` variables: under `npm test` they carry this repository's
 * prefix and workspace settings, which would point the child npm back at the repository.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
    return { ...env, ...extra };
}

/** The first ```ts block of docs/client.md's backend section. */
function backendExample(doc: string): string {
    const start = doc.indexOf(SECTION);
    if (start < 0) throw new Error(`${DOC} has no "${SECTION}" section`);
    const next = doc.indexOf("\n## ", start + SECTION.length);
    const section = doc.slice(start, next < 0 ? undefined : next);
    const block = /```ts\n([\s\S]*?)\n```/.exec(section);
    if (!block) throw new Error(`${DOC} "${SECTION}" has no \`\`\`ts block`);
    return block[1];
}

/** Every installed package name under `dir/node_modules`, nested ones included. */
function installedPackages(dir: string): string[] {
    const names: string[] = [];
    const walk = (nm: string): void => {
        if (!existsSync(nm)) return;
        for (const entry of readdirSync(nm)) {
            if (entry.startsWith(".")) continue;
            const pkgs = entry.startsWith("@") ? readdirSync(path.join(nm, entry)).map((s) => `${entry}/${s}`) : [entry];
            for (const name of pkgs) {
                names.push(name);
                walk(path.join(nm, name, "node_modules"));
            }
        }
    };
    walk(path.join(dir, "node_modules"));
    return names;
}

async function duBytes(dir: string): Promise<number> {
    const { stdout } = await run("du", ["-sb", dir]);
    return Number(stdout.split(/\s/)[0]);
}

describe("docs/client.md's backend example, from a fresh folder with the packed @copilot-fleet/client", () => {
    let tmp: string;
    let app: string;
    let tarball: string;
    let fleet: LocalFleet;

    beforeAll(async () => {
        tmp = mkdtempSync(path.join(os.tmpdir(), "client-package-"));
        app = path.join(tmp, "backend");
        mkdirSync(app);
        // `npm pack` runs the package's prepare (its build), so the tarball holds a fresh dist/.
        await run("npm", ["pack", "--workspace", "@copilot-fleet/client", "--pack-destination", tmp, "--silent"], {
            cwd: ROOT,
            env: cleanEnv(),
            timeout: 120_000,
        });
        tarball = path.join(tmp, readdirSync(tmp).find((f) => f.endsWith(".tgz")) as string);
        writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "backend", version: "1.0.0", private: true }, null, 2));
        await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, `@github/copilot-sdk@${SDK_VERSION}`], {
            cwd: app,
            env: cleanEnv(),
            timeout: 300_000,
            maxBuffer: 16 * 1024 * 1024,
        });
        fleet = await startLocalFleet({ replicas: 2 });
    }, 420_000);

    afterAll(async () => {
        await fleet?.stop();
        if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it("ships only built JavaScript and declarations", async () => {
        const { stdout } = await run("tar", ["-tzf", tarball]);
        const files = stdout.trim().split("\n").sort();
        expect(files).toContain("package/dist/index.js");
        expect(files).toContain("package/dist/index.d.ts");
        expect(files.filter((f) => !/^package\/(dist\/[\w-]+\.(js|d\.ts)|package\.json|README\.md)$/.test(f))).toEqual([]);
    });

    it("installs with no @pulumi/* package and no other infrastructure dependency", async () => {
        const names = installedPackages(app);
        expect(names).toContain("@copilot-fleet/client");
        expect(names).toContain("ioredis");
        expect(names.filter((n) => n.startsWith("@pulumi/") || n.startsWith("@kubernetes/"))).toEqual([]);
        const client = JSON.parse(readFileSync(path.join(app, "node_modules/@copilot-fleet/client/package.json"), "utf8"));
        expect(Object.keys(client.dependencies ?? {})).toEqual(["ioredis"]);
        const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
        const total = await duBytes(path.join(app, "node_modules"));
        const own = await duBytes(path.join(app, "node_modules/@copilot-fleet/client"));
        console.log(`fresh install: ${names.length} packages, node_modules ${mb(total)} (@copilot-fleet/client ${mb(own)})`);
    });

    it("type-checks from CommonJS and ES modules under node16 resolution too (declarations through the exports map)", async () => {
        const dir = path.join(app, "node16");
        mkdirSync(dir);
        const check = [
            'import { pickReplica, tenantSessionConfig, type TenantResumeConfig } from "@copilot-fleet/client";',
            'export const r: { name: string } = pickReplica("s", [{ name: "a" }]);',
            'export const c: TenantResumeConfig = tenantSessionConfig({ workspace: "/w" });',
            "",
        ].join("\n");
        writeFileSync(path.join(dir, "check.cts"), check);
        writeFileSync(path.join(dir, "check.mts"), check);
        const tsc = require.resolve("typescript/bin/tsc", { paths: [ROOT] });
        const types = path.join(ROOT, "node_modules/@types");
        const args = ["--noEmit", "--strict", "--target", "es2022", "--module", "node16", "--typeRoots", types, "--types", "node", "check.cts", "check.mts"];
        await expect(run(process.execPath, [tsc, ...args], { cwd: dir, env: cleanEnv() })).resolves.toBeDefined();
    }, 60_000);

    it("type-checks (strict) and runs two turns, routed by session id or through the load balancer", async () => {
        writeFileSync(path.join(app, "backend.ts"), backendExample(readFileSync(path.join(ROOT, DOC), "utf8")));
        writeFileSync(
            path.join(app, "tsconfig.json"),
            JSON.stringify({
                compilerOptions: {
                    // CommonJS, as ts-node runs it. Not node16: the SDK's `require` condition points at
                    // ESM declarations ("type": "module"), which TypeScript then refuses to require.
                    target: "ES2022",
                    module: "commonjs",
                    strict: true,
                    // @types/node is the project's own (pinned) copy; nothing else comes from the repository.
                    typeRoots: [path.join(ROOT, "node_modules/@types")],
                    types: ["node"],
                },
                files: ["backend.ts"],
            }),
        );
        const o = fleet.outputs;
        const common = {
            COPILOT_CONNECTION_TOKEN: o.connectionToken as string,
            REDIS_URL: o.redisUrl as string,
            COPILOT_SESSION_STATE_PATH: o.sessionStatePath as string,
            COPILOT_PROVIDER: JSON.stringify(o.provider),
        };
        const tsNode = require.resolve("ts-node/dist/bin.js", { paths: [ROOT] });
        const targets: Record<string, string>[] = [{ COPILOT_REPLICAS: JSON.stringify(o.replicas) }, { COPILOT_ENDPOINT: o.endpoint as string }];
        for (const target of targets) {
            const { stdout } = await run(process.execPath, [tsNode, "backend.ts"], { cwd: app, env: cleanEnv({ ...common, ...target }), timeout: 180_000 });
            // The stub echoes the prompt as the CLI wrapped it (context first, several lines).
            const replies = stdout.trim().split(/(?=^stub reply #)/m);
            expect(replies).toHaveLength(2);
            expect(replies[0]).toMatch(/^stub reply #1 to ".*Hello"/s);
            // #2: the resumed session still holds the first turn.
            expect(replies[1]).toMatch(/^stub reply #2 to ".*And again"/s);
        }
    }, 400_000);
});
