/**
 * The component package through the real engine: `pulumi package get-schema <repository>/plugin`,
 * the step `pulumi package add` starts with. The engine runs plugin/ through the Node.js language
 * host's RunPlugin (kind resource), @pulumi/pulumi/cmd/run-plugin serves the exported components, and
 * the engine asks that provider for its schema. test/library/schema.test.ts checks the same inference
 * in-process; this checks what a Python, Go, .NET or YAML program would actually be given.
 */
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, run } from "../helpers/containers";
import { expectPerUserFleetSchema, PackageSchema } from "../helpers/componentSchema";
import { engine } from "../helpers/engine";

let schema: PackageSchema & { name: string; version: string };

beforeAll(async () => {
    const e = await engine();
    const r = await run(e.bin, ["package", "get-schema", path.join(REPO_ROOT, "plugin")], {
        cwd: REPO_ROOT,
        env: e.env,
        timeoutMs: 300_000,
    });
    schema = JSON.parse(r.stdout) as typeof schema;
}, 300_000);

describe("pulumi package get-schema plugin (real engine)", () => {
    it("names the package copilot-fleet at the repository's version", () => {
        expect(schema.name).toBe("copilot-fleet");
        expect(schema.version).toBe("0.1.0");
        expect(Object.keys(schema.resources).sort()).toEqual(
            ["AciNetwork", "AciPerUserFleet", "AciSharedFleet", "AciStorage", "DockerPerUserFleet", "DockerSharedFleet", "PerUserFleet", "SharedFleet"].map((c) => `copilot-fleet:index:${c}`),
        );
    });

    it("serves SharedFleet as a component with namespace and image required", () => {
        const r = schema.resources["copilot-fleet:index:SharedFleet"];
        expect(r.isComponent).toBe(true);
        expect(r.requiredInputs.sort()).toEqual(["image", "namespace"]);
        expect(r.inputProperties.replicas.type).toBe("number");
        expect(r.inputProperties.exposure.$ref).toBe("#/types/copilot-fleet:index:Exposure");
        expect(r.inputProperties.resources.$ref).toBe("#/types/copilot-fleet:index:ServerResourcesArgs");
        expect(Object.keys(r.properties)).toEqual(expect.arrayContaining(["endpoint", "connectionToken", "port", "redisUrl", "namespace"]));
    });

    it("serves PerUserFleet with users of { id, githubToken, suspended }", () => {
        expectPerUserFleetSchema(schema);
    });

    it("types the enums", () => {
        expect(schema.types["copilot-fleet:index:Exposure"].enum?.map((e) => e.value).sort()).toEqual(["cluster", "internal", "public"]);
        expect(schema.types["copilot-fleet:index:TelemetryProtocol"].enum?.map((e) => e.value).sort()).toEqual(["http/json", "http/protobuf"]);
    });
});
