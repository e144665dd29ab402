/**
 * What `pulumi package add <repository>/plugin` infers: the engine runs plugin/ (PulumiPlugin.yaml)
 * through the Node.js language host, and its component provider host runs Pulumi's own analyzer
 * (provider/experimental) on the exported classes. The same analyzer runs here on the same folder,
 * without the engine; test/engine/package.test.ts reads the schema the real engine emits.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";
import { generateSchema } from "@pulumi/pulumi/provider/experimental/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { expectPerUserFleetSchema, PackageSchema } from "../helpers/componentSchema";
import { installMocks, promiseOf } from "../helpers/pulumiMocks";

const ROOT = path.resolve(__dirname, "../..");
const PLUGIN_DIR = path.join(ROOT, "plugin");

/** The parts of the generated schema the assertions read. */
let schema: PackageSchema;
/** The classes plugin/index.ts serves. */
const SERVED = ["SharedFleet", "PerUserFleet", "DockerSharedFleet", "DockerPerUserFleet", "AciNetwork", "AciStorage", "AciSharedFleet", "AciPerUserFleet"];

beforeAll(() => {
    const pkg = JSON.parse(readFileSync(path.join(PLUGIN_DIR, "package.json"), "utf8")) as Record<string, unknown>;
    const result = new Analyzer(PLUGIN_DIR, "copilot-fleet", pkg, new Set(SERVED)).analyze();
    schema = generateSchema("copilot-fleet", "0.1.0", "copilot-fleet", result.components, result.typeDefinitions, result.dependencies, undefined) as unknown as typeof schema;
}, 120_000);

describe("source-based plugin package", () => {
    it("plugin/ is the plugin folder: PulumiPlugin.yaml with the Node.js runtime, package.json naming the package", () => {
        // Pulumi reads only `runtime` from PulumiPlugin.yaml and runs package.json's `main` of the same
        // folder, so the file must not sit at the root, where `main` is the turnkey program.
        expect(existsSync(path.join(ROOT, "PulumiPlugin.yaml"))).toBe(false);
        expect(parse(readFileSync(path.join(PLUGIN_DIR, "PulumiPlugin.yaml"), "utf8"))).toEqual({ runtime: "nodejs" });
        const pkg = JSON.parse(readFileSync(path.join(PLUGIN_DIR, "package.json"), "utf8")) as { name: string; main: string };
        expect(pkg).toMatchObject({ name: "copilot-fleet", main: "index.ts" });
    });

    it("infers SharedFleet with its documented inputs and only namespace and image required", () => {
        const r = schema.resources["copilot-fleet:index:SharedFleet"];
        expect(r.isComponent).toBe(true);
        expect(Object.keys(r.inputProperties).sort()).toEqual(
            [
                "allowedCidrs", "cliVersion", "clientAffinity", "connectionToken", "egressAllowedCidrs", "egressEndpoints", "exposure", "githubToken", "image",
                "namespace", "protectSessionState", "redis", "replicas", "resources", "serviceAnnotations", "sessionCleanup", "sessionIdleTimeoutSeconds",
                "storageClass", "storageSize", "telemetry",
            ].sort(),
        );
        expect(r.requiredInputs).toEqual(["image", "namespace"]);
        expect(r.inputProperties.replicas.description).toBe("Number of CLI server replicas. Default 3.");
        expect(r.inputProperties.exposure.$ref).toBe("#/types/copilot-fleet:index:Exposure");
        expect(Object.keys(r.properties)).toEqual(expect.arrayContaining(["endpoint", "connectionToken", "port", "redisUrl"]));
    });

    it("infers PerUserFleet with users of { id, githubToken, suspended }", () => {
        const r = expectPerUserFleetSchema(schema);
        expect(Object.keys(r.properties)).toEqual(expect.arrayContaining(["users", "namespace", "selector", "port"]));
    });

    it("serves every platform's fleets, each under copilot-fleet:index:<class name>", async () => {
        // What run-plugin serves: the component classes plugin/index.ts exports.
        const { getPulumiComponents } = await import("@pulumi/pulumi/provider/experimental/provider");
        expect(getPulumiComponents(await import("../../plugin")).map((c) => c.name).sort()).toEqual([...SERVED].sort());
        // The schema's package name is plugin/package.json's; the classes' tokens use PACKAGE_NAME.
        const { PACKAGE_NAME } = await import("../../components/contract/types");
        expect((JSON.parse(readFileSync(path.join(PLUGIN_DIR, "package.json"), "utf8")) as { name: string }).name).toBe(PACKAGE_NAME);
        expect(Object.keys(schema.resources).sort()).toEqual(SERVED.map((n) => `copilot-fleet:index:${n}`).sort());
    });

    it("infers the Docker and ACI fleets with their plain inputs", () => {
        const required = (n: string) => [...schema.resources[`copilot-fleet:index:${n}`].requiredInputs].sort();
        expect(required("DockerSharedFleet")).toEqual(["image"]);
        expect(required("DockerPerUserFleet")).toEqual(["image", "users"]);
        expect(required("AciSharedFleet")).toEqual(["edgeSubnetId", "image", "resourceGroupName", "serverSubnetId", "share"]);
        expect(required("AciPerUserFleet")).toEqual(["image", "resourceGroupName", "serverSubnetId", "shares", "users"]);
        expect(required("AciNetwork")).toEqual(["resourceGroupName"]);
        // Docker cannot filter egress, so its fleets take no egress inputs.
        expect(Object.keys(schema.resources["copilot-fleet:index:DockerSharedFleet"].inputProperties)).not.toContain("egressAllowedCidrs");
        expect(schema.resources["copilot-fleet:index:AciNetwork"].inputProperties.mode.$ref).toBe("#/types/copilot-fleet:index:Mode");
        expect(schema.types["copilot-fleet:index:Mode"].enum?.map((e) => e.value).sort()).toEqual(["per-user", "shared"]);
        expect(Object.keys(schema.types["copilot-fleet:index:AzureFileShareRef"].properties ?? {}).sort()).toEqual(["shareName", "storageAccountKey", "storageAccountName"]);
    });

    it("the classes register under the very tokens the schema names, the only module the provider host serves", async () => {
        installMocks();
        const { AciNetwork, DockerSharedFleet, PerUserFleet, SharedFleet } = await import("../../plugin");
        const image = "registry.example.com/copilot-cli:1.0.102";
        const built = [
            new SharedFleet("s", { namespace: "ns", image }),
            new PerUserFleet("p", { namespace: "ns", image, users: [{ id: "alice" }] }),
            new DockerSharedFleet("d", { image }),
            new AciNetwork("n", { resourceGroupName: "rg" }),
        ];
        const typeOf = (urn: string | undefined) => (urn ?? "").split("::")[2].split("$").pop();
        const types = await Promise.all(built.map(async (c) => typeOf(await promiseOf(c.urn))));
        expect(types).toEqual(["copilot-fleet:index:SharedFleet", "copilot-fleet:index:PerUserFleet", "copilot-fleet:index:DockerSharedFleet", "copilot-fleet:index:AciNetwork"]);
        for (const t of types) expect(Object.keys(schema.resources)).toContain(t);
        // What ComponentProvider.construct checks before it looks the class up by the token's last part.
        const { ComponentProvider } = await import("@pulumi/pulumi/provider/experimental/provider");
        for (const t of types) expect(() => ComponentProvider.validateResourceType("copilot-fleet", t as string)).not.toThrow();
        expect(() => ComponentProvider.validateResourceType("copilot-fleet", "copilot-fleet:kubernetes:SharedFleet")).toThrow("Invalid module 'kubernetes'");
    });

    it("types the enums and nested args", () => {
        expect(schema.types["copilot-fleet:index:Exposure"].enum?.map((e) => e.value).sort()).toEqual(["cluster", "internal", "public"]);
        expect(Object.keys(schema.types["copilot-fleet:index:TelemetryArgs"].properties ?? {}).sort()).toEqual(["captureContent", "otlpEndpoint", "protocol", "resourceAttributes"]);
        expect(schema.types["copilot-fleet:index:SessionCleanupArgs"].required).toEqual(["ttlHours"]);
    });
});
