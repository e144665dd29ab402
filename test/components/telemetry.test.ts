/**
 * The `telemetry` key end to end under mocks: parsed once (clear errors), turned into the CLI's
 * OpenTelemetry variables by the spec, and rendered by Kubernetes (schema-validated, one instance id
 * per pod through the downward API) and Docker (one per container). No secret is involved: servers
 * send to a collector inside the network, which holds the backend's credentials.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseFleetConfig, type RawConfig } from "../../components/config";
import { buildServerSpec, telemetryInstanceEnv } from "../../components/contract/server";
import { deployUnderMocks, Obj } from "../helpers/deployUnderMocks";
import { isKubernetesObject, validateAgainstSchema } from "../helpers/k8sSchema";
import { installMocks, MockRecorder, RecordedResource } from "../helpers/pulumiMocks";

const BASE: RawConfig = { platform: "kubernetes", image: "registry.example.com/copilot-cli:1.0.102", githubToken: "gho_x" };
const TELEMETRY = JSON.stringify({ otlpEndpoint: "http://otel-collector.monitoring:4318", resourceAttributes: { "deployment.environment.name": "prod eu" } });

function messages(raw: RawConfig): string[] {
    try {
        parseFleetConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) return e.issues.map((i) => i.message);
        throw e;
    }
    return [];
}

describe("telemetry config", () => {
    it("is off unless set; defaults to OTLP protobuf without content", () => {
        expect(parseFleetConfig(BASE).telemetry).toBeUndefined();
        expect(parseFleetConfig({ ...BASE, telemetry: JSON.stringify({ otlpEndpoint: "https://otel.example.com:4318" }) }).telemetry).toEqual({
            otlpEndpoint: "https://otel.example.com:4318",
            protocol: "http/protobuf",
            captureContent: false,
            resourceAttributes: {},
        });
    });

    it.each([
        [{}, "telemetry.otlpEndpoint: is required with telemetry: the OTLP/HTTP base URL of your collector, e.g. http://otel-collector.monitoring:4318"],
        [{ otlpEndpoint: "otel:4318" }, 'telemetry.otlpEndpoint: "otel:4318" is not accepted; use an http:// or https:// base URL without query, e.g. http://otel-collector.monitoring:4318'],
        [
            { otlpEndpoint: "http://otel:4317", protocol: "grpc" },
            'telemetry.protocol: "grpc" is not accepted; use one of "http/protobuf", "http/json" (the CLI exports OTLP over HTTP only; point it at the collector\'s HTTP port, usually 4318)',
        ],
        [{ otlpEndpoint: "http://otel:4318", captureContent: "yes" }, 'telemetry.captureContent: "yes" is not a boolean; use true or false (default false: prompts and replies stay out of telemetry)'],
        [{ otlpEndpoint: "http://otel:4318", resourceAttributes: { "service.instance.id": "x" } }, 'telemetry.resourceAttributes: "service.instance.id" is set by the fleet for each server; remove it'],
        [{ otlpEndpoint: "http://otel:4318", resourceAttributes: { "a b": "x" } }, 'telemetry.resourceAttributes: key "a b" is not accepted; use letters, digits, ".", "_" and "-"'],
        [{ otlpEndpoint: "http://otel:4318", resourceAttributes: { env: 1 } }, 'telemetry.resourceAttributes: {"env":1} is not an object of string values, e.g. { "deployment.environment.name": "prod" }'],
        [
            { otlpEndpoint: "http://otel:4318", headers: "Authorization=Bearer x" },
            "telemetry: unknown field \"headers\": the servers send to an OpenTelemetry Collector inside your network, and the collector holds the backend's credentials, so no secret reaches the servers",
        ],
        [{ otlpEndpoint: "http://otel:4318", sampler: "x" }, 'telemetry: unknown field "sampler"; accepted: "otlpEndpoint", "protocol", "captureContent", "resourceAttributes"'],
    ])("%j → %s", (telemetry, expected) => {
        expect(messages({ ...BASE, telemetry: JSON.stringify(telemetry) })).toEqual([expected]);
    });

    it("names the key when the value is not an object", () => {
        expect(messages({ ...BASE, telemetry: '"http://otel:4318"' })).toEqual([
            'telemetry: "\\"http://otel:4318\\"" is not an object; use { otlpEndpoint, protocol, captureContent, resourceAttributes }',
        ]);
    });
});

describe("telemetry in the server spec", () => {
    const telemetry = parseFleetConfig({ ...BASE, telemetry: TELEMETRY }).telemetry;

    it("adds the exporter variables only when set", () => {
        const off = buildServerSpec({ credential: { kind: "provider" } });
        expect(off.env.filter((e) => e.name.startsWith("OTEL_"))).toEqual([]);
        expect(telemetryInstanceEnv(off, "copilot-1")).toEqual([]);
        const on = buildServerSpec({ credential: { kind: "provider" }, telemetry });
        expect(on.env.filter((e) => e.name.startsWith("OTEL_"))).toEqual([
            { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://otel-collector.monitoring:4318" },
            { name: "OTEL_EXPORTER_OTLP_PROTOCOL", value: "http/protobuf" },
            { name: "OTEL_SERVICE_NAME", value: "copilot-cli" },
            { name: "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value: "false" },
        ]);
    });

    it("names each instance and percent-encodes attribute values", () => {
        const on = buildServerSpec({ credential: { kind: "provider" }, telemetry });
        expect(telemetryInstanceEnv(on, "copilot-2")).toEqual([
            { name: "OTEL_RESOURCE_ATTRIBUTES", value: "service.instance.id=copilot-2,service.namespace=copilot-fleet,deployment.environment.name=prod%20eu" },
        ]);
        expect(() => telemetryInstanceEnv(on, "a,b=c")).toThrow(/must be a plain name or \$\(POD_NAME\)/);
    });
});

describe("telemetry as each platform renders it", () => {
    let rec: MockRecorder;
    beforeAll(() => {
        rec = installMocks();
    });
    beforeEach(() => rec.clear());

    const k8sEnv = (r: RecordedResource): Obj[] => ((r.inputs as Obj).spec.template.spec.containers as Obj[]).find((c) => c.name === "copilot")?.env as Obj[];

    it("kubernetes shared and per-user: POD_NAME from the downward API, then the attributes that use it; schema-valid", async () => {
        for (const raw of [
            { ...BASE, telemetry: TELEMETRY },
            { ...BASE, mode: "per-user", users: '["alice","bob"]', telemetry: TELEMETRY },
        ] as RawConfig[]) {
            rec.clear();
            await deployUnderMocks(raw);
            const deployments = rec.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name !== "copilot-redis");
            expect(deployments.length).toBeGreaterThan(0);
            for (const d of deployments) {
                const env = k8sEnv(d);
                const names = env.map((e) => e.name as string);
                expect(names.indexOf("POD_NAME")).toBeGreaterThanOrEqual(0);
                expect(names.indexOf("POD_NAME")).toBeLessThan(names.indexOf("OTEL_RESOURCE_ATTRIBUTES"));
                expect(env.find((e) => e.name === "POD_NAME")?.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
                expect(env.find((e) => e.name === "OTEL_RESOURCE_ATTRIBUTES")?.value).toMatch(/^service\.instance\.id=\$\(POD_NAME\),/);
                expect(env.find((e) => e.name === "OTEL_EXPORTER_OTLP_ENDPOINT")?.value).toBe("http://otel-collector.monitoring:4318");
            }
            for (const r of rec.resources.filter(isKubernetesObject)) validateAgainstSchema(r);
        }
    });

    it("kubernetes without telemetry renders no OTEL variable and no POD_NAME", async () => {
        await deployUnderMocks(BASE);
        const d = rec.resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "copilot");
        expect(d).toBeDefined();
        expect(k8sEnv(d as RecordedResource).filter((e) => /^(OTEL_|POD_NAME$)/.test(e.name as string))).toEqual([]);
    });

    it("docker: each replica reports its own container name as the instance", async () => {
        await deployUnderMocks({ platform: "docker", replicas: "2", githubToken: "gho_x", telemetry: TELEMETRY });
        const replicas = rec.resources.filter((r) => r.type === "docker:index/container:Container" && /^copilot-\d+$/.test(r.name));
        expect(replicas.map((r) => r.name).sort()).toEqual(["copilot-1", "copilot-2"]);
        for (const r of replicas) {
            const envs = (r.inputs as Obj).envs as string[];
            expect(envs).toContain(`OTEL_RESOURCE_ATTRIBUTES=service.instance.id=${r.name},service.namespace=copilot-fleet,deployment.environment.name=prod%20eu`);
            expect(envs).toContain("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf");
        }
    });
});
