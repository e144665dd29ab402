/**
 * The full set of resources the program registers for representative stacks, in a stable JSON form:
 * every resource's type, name, parent, inputs (secrets masked) and options, plus the stack outputs.
 * test/layout.test.ts compares it with test/fixtures/resource-sets.json, so moving code around
 * cannot change what `pulumi up` would do without the diff showing it.
 *
 * Regenerate the fixture (only when a change to the resources is intended):
 *   UPDATE_RESOURCE_SETS=1 npx vitest run test/layout.test.ts
 *
 * Determinism: generated tokens are the mocks' deterministic RandomPassword results, ports and ACI
 * addresses come from counters reset per case; resources are sorted by URN and dependency lists are
 * sorted, because registration order follows promise resolution. Secret values are replaced by a
 * short hash of the value, so the fixture holds no credential text but still changes when one does.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../components/config";
import { MockRecorder, settle } from "./pulumiMocks";
import * as path from "node:path";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

const TELEMETRY = JSON.stringify({ otlpEndpoint: "http://otel-collector.monitoring:4318", resourceAttributes: { "deployment.environment.name": "test" } });
const TOKEN_USERS = JSON.stringify([{ id: "alice", githubToken: "ghp_alice_token_value" }, { id: "bob", suspended: true }, "carol"]);

/** Stacks that together reach every platform × mode and the main branches of each (image built or not, credential kinds, exposures). */
export const RESOURCE_SET_CASES: Readonly<Record<string, RawConfig>> = {
    "kubernetes/shared": {
        platform: "kubernetes",
        replicas: "2",
        githubToken: "gho_service_token",
        image: "registry.example.com/copilot-cli:1.0.102",
        exposure: "internal",
        allowedCidrs: '["10.1.0.0/16"]',
        egressAllowedCidrs: '["10.20.0.0/24"]',
        serviceAnnotations: '{"service.beta.kubernetes.io/azure-load-balancer-internal":"true"}',
        storageClass: "azurefile-csi",
        resources: '{"memoryLimit":"3Gi"}',
        sessionIdleTimeoutSeconds: "3600",
        telemetry: TELEMETRY,
    },
    "kubernetes/shared-built-byok": {
        platform: "kubernetes",
        replicas: "3",
        imageRepository: "registry.example.com/copilot-cli",
        provider: JSON.stringify({ type: "openai", baseUrl: "http://10.30.0.5:8080/v1", model: "gpt-4.1", apiKey: "sk-test-key-value" }),
        connectionToken: "c".repeat(32),
        exposure: "public",
        allowedCidrs: '["203.0.113.0/24"]',
        createNamespace: "false",
        namespace: "apps",
        clientAffinity: "true",
        redis: "false",
        protectSessionState: "false",
        sessionTtlHours: "48",
        sessionCleanupIntervalMinutes: "15",
    },
    "kubernetes/per-user": {
        platform: "kubernetes",
        mode: "per-user",
        users: TOKEN_USERS,
        githubToken: "gho_service_token",
        image: "registry.example.com/copilot-cli:1.0.102",
        exposure: "internal",
        allowedCidrs: '["10.1.0.0/16"]',
        telemetry: TELEMETRY,
    },
    "kubernetes/per-user-per-session": {
        platform: "kubernetes",
        mode: "per-user",
        users: '["alice","bob"]',
        credentials: "perSession",
        image: "registry.example.com/copilot-cli@sha256:" + "ef".repeat(32),
    },
    "aci/shared": {
        platform: "aci",
        replicas: "2",
        githubToken: "gho_service_token",
        exposure: "internal",
        allowedCidrs: '["10.1.0.0/16"]',
        egressAllowedCidrs: '["10.20.0.0/24"]',
        location: "westeurope",
        vnetAddressSpace: "10.50.0.0/20",
        telemetry: TELEMETRY,
    },
    "aci/shared-prebuilt-byok": {
        platform: "aci",
        replicas: "2",
        image: "ghcr.io/example/copilot-cli:1.0.102",
        provider: JSON.stringify({ type: "azure", baseUrl: "https://example.openai.azure.com/openai/v1", model: "gpt-4.1", apiKey: "azure-key-value" }),
        resourceGroupName: "existing-rg",
        redis: "false",
        sessionIdleTimeoutSeconds: "1800",
    },
    "aci/per-user": {
        platform: "aci",
        mode: "per-user",
        users: TOKEN_USERS,
        githubToken: "gho_service_token",
        image: "ghcr.io/example/copilot-cli:1.0.102",
        exposure: "internal",
        allowedCidrs: '["10.1.0.0/16"]',
    },
    "docker/shared": {
        platform: "docker",
        replicas: "2",
        githubToken: "gho_service_token",
        telemetry: TELEMETRY,
        resources: '{"cpuLimit":"1"}',
    },
    "docker/per-user": {
        platform: "docker",
        mode: "per-user",
        users: TOKEN_USERS,
        image: "copilot-cli:1.0.102",
        provider: JSON.stringify({ baseUrl: "https://models.example.com/v1", model: "m" }),
        protectSessionState: "true",
    },
};

export interface SnapshotResource {
    readonly type: string;
    readonly name: string;
    readonly parent: string;
    readonly inputs: unknown;
    readonly options: Record<string, unknown>;
}

export interface ResourceSet {
    readonly resources: readonly SnapshotResource[];
    readonly outputs: Record<string, unknown>;
}

function masked(value: unknown): string {
    return `[secret ${createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 12)}]`;
}

/** The checkout's own path (the image build context is absolute): `<repo>` so the snapshot holds in any clone. */
const REPO_ROOT = path.resolve(__dirname, "../..");

/** Secrets (signature-tagged by the mock monitor) become a hash of their value; keys are sorted. */
function normalise(v: unknown): unknown {
    if (typeof v === "string") return v.split(REPO_ROOT).join("<repo>");
    if (Array.isArray(v)) return v.map(normalise);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_SIG] === SECRET_VALUE) return masked(o.value);
        return Object.fromEntries(
            Object.keys(o)
                .sort()
                .map((k) => [k, normalise(o[k])]),
        );
    }
    return v;
}

const sortKey = (r: SnapshotResource): string => `${r.type}::${r.name}::${r.parent}`;

async function resolvedOutput(v: unknown): Promise<unknown> {
    const o: pulumi.Output<unknown> = pulumi.output(v as pulumi.Input<unknown>);
    const [value, secret] = await Promise.all([new Promise<unknown>((resolve) => o.apply((x: unknown) => resolve(x))), (o as unknown as { isSecret: Promise<boolean> }).isSecret]);
    return secret ? masked(value) : normalise(value);
}

/** Deploys one raw config under the caller's mocks (installMocks() in beforeAll) and returns its resource set. */
export async function captureResourceSet(rec: MockRecorder, raw: RawConfig): Promise<ResourceSet> {
    rec.clear();
    const { deploy } = await import("../../components/deploy");
    const { parseFleetConfig } = await import("../../components/config");
    const outputs = await deploy(parseFleetConfig(raw));
    const resolved: Record<string, unknown> = {};
    for (const k of Object.keys(outputs).sort()) resolved[k] = await resolvedOutput((outputs as Record<string, unknown>)[k]);
    await settle(100);
    const resources = rec.resources
        .map((r): SnapshotResource => {
            const { parent, dependencies, ...rest } = r.opts;
            const options: Record<string, unknown> = { ...rest, dependencies: [...(dependencies ?? [])].sort() };
            return {
                type: r.type,
                name: r.name,
                parent: parent ?? "",
                inputs: normalise(r.rawInputs),
                options: normalise(options) as Record<string, unknown>,
            };
        })
        .sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    return { resources, outputs: resolved };
}
