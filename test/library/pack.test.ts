/**
 * copilot-fleet as a consumer gets it: build, `npm pack`, install the tarball with only the peers a
 * Kubernetes consumer needs (no azure-native, no docker: that the program runs without them proves the
 * sub-path separation) into a fresh folder outside the repository, then run a consumer's own program
 * there (test/library/consumer) through ts-node, CommonJS, as `pulumi up` loads a program, under mocks.
 * Then the Docker and ACI peers are added and a second program of the consumer's composes those
 * platforms' fleets with plain arguments (consumer/platforms.ts).
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLibrary, cleanEnv, ROOT, run } from "./build";

/** The versions the repository pins, so the install is served from the warm npm cache. */
const PEERS = ["@pulumi/pulumi@3.248.0", "@pulumi/kubernetes@4.34.2", "@pulumi/random@4.21.2", "typescript@5.9.3", "ts-node@10.9.2", "@types/node@20.19.43"];
/** Added afterwards, for the Docker and ACI program. */
const OTHER_PEERS = ["@pulumi/docker@5.2.0", "@pulumi/azure-native@3.28.0"];

interface Report {
    urns: Record<string, string>;
    endpoint?: string;
    registered: { type: string; name: string; parent?: string; provider?: string }[];
}

let dir: string;
let report: Report;
let platformsReport: Report;
/** `@pulumi/*` packages the folder held before the Docker and ACI peers were added. */
let kubernetesOnly: string[];

beforeAll(async () => {
    await buildLibrary();
    dir = mkdtempSync(path.join(os.tmpdir(), "copilot-fleet-consumer-"));
    const { stdout } = await run("npm", ["pack", "--pack-destination", dir, "--json"], { cwd: ROOT, env: cleanEnv(), maxBuffer: 16 << 20 });
    const tarball = (JSON.parse(stdout) as { filename: string }[])[0].filename;
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "acme-platform", version: "1.0.0", private: true, main: "index.ts" }, null, 2));
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, tarball), ...PEERS], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    for (const f of ["index.ts", "platforms.ts", "main.ts", "tsconfig.json"]) copyFileSync(path.join(__dirname, "consumer", f), path.join(dir, f));
    const tsNode = path.join(dir, "node_modules", ".bin", "ts-node");
    const out = await run(tsNode, ["main.ts", "index"], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    report = JSON.parse(out.stdout.trim().split("\n").pop() ?? "{}") as Report;
    kubernetesOnly = readdirSync(path.join(dir, "node_modules", "@pulumi")).sort();
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...OTHER_PEERS], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    const other = await run(tsNode, ["main.ts", "platforms"], { cwd: dir, env: cleanEnv(), maxBuffer: 64 << 20 });
    platformsReport = JSON.parse(other.stdout.trim().split("\n").pop() ?? "{}") as Report;
}, 900_000);

afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the packed library in a consumer's own program", () => {
    it("installed without azure-native or docker, and ships no program, tests or sources", () => {
        expect(kubernetesOnly).toContain("kubernetes");
        expect(kubernetesOnly).not.toContain("azure-native");
        expect(kubernetesOnly).not.toContain("docker");
        const pkgDir = path.join(dir, "node_modules", "copilot-fleet");
        expect(existsSync(path.join(pkgDir, "dist", "components", "kubernetes", "index.d.ts"))).toBe(true);
        expect(existsSync(path.join(pkgDir, "images", "copilot-cli", "Dockerfile"))).toBe(true);
        // npm always packs package.json's `main` (index.ts, the repository's own `pulumi up` program); nothing else of it ships.
        for (const absent of ["test", "smoke", "policy", "components", "packages"]) expect(existsSync(path.join(pkgDir, absent))).toBe(false);
    });

    it("the fleets sit under the consumer's parent, with the consumer's names", () => {
        expect(report.urns.shared).toBe("urn:pulumi:test::consumer::acme:platform:Copilot$copilot-fleet:index:SharedFleet::acme-shared");
        expect(report.urns.perUser).toBe("urn:pulumi:test::consumer::acme:platform:Copilot$copilot-fleet:index:PerUserFleet::acme-users");
        expect(report.endpoint).toBe("acme-shared.acme.svc.cluster.local:4321");
    });

    it("every child is named from its fleet and parented inside it", () => {
        const byKey = new Map(report.registered.map((r) => [`${r.type}::${r.name}`, r]));
        const children = report.registered.filter((r) => r.type !== "acme:platform:Copilot" && r.type !== "pulumi:providers:kubernetes");
        expect(children.length).toBeGreaterThan(15);
        for (const r of children) {
            expect(r.name, `${r.type} ${r.name}`).toMatch(/^acme-(shared|users)(-|$)/);
            expect(rootOf(report, `${r.type}::${r.name}`), `${r.type} ${r.name}`).toBe("acme:platform:Copilot::acme");
        }
        expect(byKey.get("kubernetes:apps/v1:Deployment::acme-users-u-alice")?.parent).toBe("copilot-fleet:index:UserServer::acme-users-u-alice");
    });

    it("every Kubernetes object uses the consumer's provider, inherited or passed", () => {
        const k8sObjects = report.registered.filter((r) => r.type.startsWith("kubernetes:"));
        expect(k8sObjects.map((r) => r.name)).toEqual(expect.arrayContaining(["acme-shared", "acme-shared-credentials", "acme-users-u-alice", "acme-users-u-bob-state"]));
        for (const r of k8sObjects) expect(r.provider, `${r.type} ${r.name}`).toMatch(/[:$]pulumi:providers:kubernetes::acme-cluster::acme-cluster-id$/);
    });
});

/** The root of `key`'s parent chain in a report. */
function rootOf(r: Report, key: string): string {
    const byKey = new Map(r.registered.map((x) => [`${x.type}::${x.name}`, x]));
    let cur = byKey.get(key);
    let root = key;
    while (cur?.parent !== undefined) {
        root = cur.parent;
        cur = byKey.get(cur.parent);
    }
    return root;
}

describe("the packed library's Docker and ACI fleets in the consumer's program, with plain arguments", () => {
    const prefix = "urn:pulumi:test::consumer::acme:platform:Copilot$copilot-fleet:index:";
    it("the fleets sit under the consumer's parent, with the consumer's names", () => {
        expect(platformsReport.urns).toMatchObject({
            devShared: `${prefix}DockerSharedFleet::acme-dev`,
            devUsers: `${prefix}DockerPerUserFleet::acme-dev-users`,
            cloudShared: `${prefix}AciSharedFleet::acme-cloud`,
            cloudUsers: `${prefix}AciPerUserFleet::acme-cloud-users`,
        });
    });

    it("registers what the plain arguments and their defaults ask for", () => {
        const names = (type: string) => platformsReport.registered.filter((r) => r.type === type).map((r) => r.name).sort();
        expect(names("docker:index/container:Container")).toEqual(
            ["acme-dev-1", "acme-dev-2", "acme-dev-lb", "acme-dev-redis", "acme-dev-session-cleanup", "acme-dev-users-u-alice", "acme-dev-users-u-bob"].sort(),
        );
        expect(names("azure-native:containerinstance:ContainerGroup")).toEqual(["acme-cloud-1", "acme-cloud-2", "acme-cloud-lb", "acme-cloud-redis", "acme-cloud-users-u-carol", "acme-cloud-users-u-dave"]);
        expect(names("azure-native:storage:FileShare")).toEqual(["acme-store-session-state", "acme-users-store-u-carol", "acme-users-store-u-dave"]);
        // Mode "per-user" has no edge subnet.
        expect(names("azure-native:network:Subnet")).toEqual(["acme-net-edge", "acme-net-servers", "acme-users-net-servers"]);
    });

    it("every child is parented inside the consumer's platform and uses the consumer's providers", () => {
        const children = platformsReport.registered.filter((r) => r.type !== "acme:platform:Copilot" && !r.type.startsWith("pulumi:providers:"));
        expect(children.length).toBeGreaterThan(40);
        for (const r of children) {
            expect(r.name, `${r.type} ${r.name}`).toMatch(/^acme-/);
            expect(rootOf(platformsReport, `${r.type}::${r.name}`), `${r.type} ${r.name}`).toBe("acme:platform:Copilot::acme");
        }
        for (const r of children.filter((c) => c.type.startsWith("docker:"))) expect(r.provider, `${r.type} ${r.name}`).toMatch(/pulumi:providers:docker::acme-docker::acme-docker-id$/);
        for (const r of children.filter((c) => c.type.startsWith("azure-native:"))) expect(r.provider, `${r.type} ${r.name}`).toMatch(/pulumi:providers:azure-native::acme-azure::acme-azure-id$/);
    });
});
