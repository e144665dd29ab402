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

const ROOT = path.resolve(__dirname, "../..");
const PLUGIN_DIR = path.join(ROOT, "plugin");

/** The parts of the generated schema the assertions read. */
interface Prop {
    $ref?: string;
    description?: string;
    items?: Prop;
}
interface Resource {
    isComponent?: boolean;
    inputProperties: Record<string, Prop>;
    requiredInputs: string[];
    properties: Record<string, Prop>;
}
interface TypeDef {
    properties?: Record<string, Prop>;
    required?: string[];
    enum?: { value: unknown }[];
}
let schema: { resources: Record<string, Resource>; types: Record<string, TypeDef> };

beforeAll(() => {
    const pkg = JSON.parse(readFileSync(path.join(PLUGIN_DIR, "package.json"), "utf8")) as Record<string, unknown>;
    const result = new Analyzer(PLUGIN_DIR, "copilot-fleet", pkg, new Set(["SharedFleet", "PerUserFleet"])).analyze();
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
        const r = schema.resources["copilot-fleet:index:PerUserFleet"];
        expect(r.isComponent).toBe(true);
        expect(r.requiredInputs.sort()).toEqual(["image", "namespace", "users"]);
        expect(r.inputProperties.users.items?.$ref).toBe("#/types/copilot-fleet:index:UserArgs");
        const user = schema.types["copilot-fleet:index:UserArgs"];
        expect(Object.keys(user.properties ?? {}).sort()).toEqual(["githubToken", "id", "suspended"]);
        expect(user.required).toEqual(["id"]);
        expect(Object.keys(r.properties)).toEqual(expect.arrayContaining(["users", "namespace", "selector", "port"]));
    });

    it("types the enums and nested args", () => {
        expect(schema.types["copilot-fleet:index:Exposure"].enum?.map((e) => e.value).sort()).toEqual(["cluster", "internal", "public"]);
        expect(Object.keys(schema.types["copilot-fleet:index:TelemetryArgs"].properties ?? {}).sort()).toEqual(["captureContent", "otlpEndpoint", "protocol", "resourceAttributes"]);
        expect(schema.types["copilot-fleet:index:SessionCleanupArgs"].required).toEqual(["ttlHours"]);
    });
});
