/**
 * copilot-fleet as a consumer gets it: build, `npm pack`, install the tarball with only the peers a
 * Kubernetes consumer needs (no azure-native, no docker: that the program runs without them proves the
 * sub-path separation) into a fresh folder outside the repository, then run a consumer's own program
 * there (test/library/consumer) through ts-node, CommonJS, as `pulumi up` loads a program, under mocks.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLibrary, cleanEnv, ROOT, run } from "./build";

/** The versions the repository pins, so the install is served from the warm npm cache. */
const PEERS = ["@pulumi/pulumi@3.248.0", "@pulumi/kubernetes@4.34.2", "@pulumi/random@4.21.2", "typescript@5.9.3", "ts-node@10.9.2", "@types/node@20.19.43"];

interface Report {
    sharedUrn: string;
    perUserUrn: string;
    endpoint: string;
    registered: { type: string; name: string; parent?: string; provider?: string }[];
}

let dir: string;
let report: Report;

beforeAll(async () => {
    await buildLibrary();
    dir = mkdtempSync(path.join(os.tmpdir(), "copilot-fleet-consumer-"));
    const { stdout } = await run("npm", ["pack", "--pack-destination", dir, "--json"], { cwd: ROOT, env: cleanEnv(), maxBuffer: 16 << 20 });
    const tarball = (JSON.parse(stdout) as { filename: string }[])[0].filename;
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "acme-platform", version: "1.0.0", private: true, main: "index.ts" }, null, 2));
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, tarball), ...PEERS], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    for (const f of ["index.ts", "main.ts", "tsconfig.json"]) copyFileSync(path.join(__dirname, "consumer", f), path.join(dir, f));
    const out = await run(path.join(dir, "node_modules", ".bin", "ts-node"), ["main.ts"], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    report = JSON.parse(out.stdout.trim().split("\n").pop() ?? "{}") as Report;
}, 600_000);

afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the packed library in a consumer's own program", () => {
    it("installed without azure-native or docker, and ships no program, tests or sources", () => {
        const pulumiPkgs = readdirSync(path.join(dir, "node_modules", "@pulumi")).sort();
        expect(pulumiPkgs).not.toContain("azure-native");
        expect(pulumiPkgs).not.toContain("docker");
        const pkgDir = path.join(dir, "node_modules", "copilot-fleet");
        expect(existsSync(path.join(pkgDir, "dist", "components", "kubernetes", "index.d.ts"))).toBe(true);
        expect(existsSync(path.join(pkgDir, "images", "copilot-cli", "Dockerfile"))).toBe(true);
        // npm always packs package.json's `main` (index.ts, the repository's own `pulumi up` program); nothing else of it ships.
        for (const absent of ["test", "smoke", "policy", "components", "packages"]) expect(existsSync(path.join(pkgDir, absent))).toBe(false);
    });

    it("the fleets sit under the consumer's parent, with the consumer's names", () => {
        expect(report.sharedUrn).toBe("urn:pulumi:test::consumer::acme:platform:Copilot$copilot-fleet:index:SharedFleet::acme-shared");
        expect(report.perUserUrn).toBe("urn:pulumi:test::consumer::acme:platform:Copilot$copilot-fleet:index:PerUserFleet::acme-users");
        expect(report.endpoint).toBe("acme-shared.acme.svc.cluster.local:4321");
    });

    it("every child is named from its fleet and parented inside it", () => {
        const byKey = new Map(report.registered.map((r) => [`${r.type}::${r.name}`, r]));
        const rootOf = (key: string): string => {
            let r = byKey.get(key);
            const chain: string[] = [];
            while (r?.parent !== undefined) {
                chain.push(r.parent);
                r = byKey.get(r.parent);
            }
            return chain[chain.length - 1] ?? key;
        };
        const children = report.registered.filter((r) => r.type !== "acme:platform:Copilot" && r.type !== "pulumi:providers:kubernetes");
        expect(children.length).toBeGreaterThan(15);
        for (const r of children) {
            expect(r.name, `${r.type} ${r.name}`).toMatch(/^acme-(shared|users)(-|$)/);
            expect(rootOf(`${r.type}::${r.name}`), `${r.type} ${r.name}`).toBe("acme:platform:Copilot::acme");
        }
        expect(byKey.get("kubernetes:apps/v1:Deployment::acme-users-u-alice")?.parent).toBe("copilot-fleet:index:UserServer::acme-users-u-alice");
    });

    it("every Kubernetes object uses the consumer's provider, inherited or passed", () => {
        const k8sObjects = report.registered.filter((r) => r.type.startsWith("kubernetes:"));
        expect(k8sObjects.map((r) => r.name)).toEqual(expect.arrayContaining(["acme-shared", "acme-shared-credentials", "acme-users-u-alice", "acme-users-u-bob-state"]));
        for (const r of k8sObjects) expect(r.provider, `${r.type} ${r.name}`).toMatch(/[:$]pulumi:providers:kubernetes::acme-cluster::acme-cluster-id$/);
    });
});
