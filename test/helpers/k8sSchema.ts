/**
 * Validates rendered Kubernetes objects against the real Kubernetes OpenAPI schema
 * (kubernetes-models), keyed by the Pulumi type token of the recorded resource.
 */
import type { RecordedResource } from "./pulumiMocks";

interface Validatable {
    validate(): void;
}
type ModelClass = new (data: Record<string, unknown>) => Validatable;

/** `kubernetes:apps/v1:Deployment` → `kubernetes-models/apps/v1/Deployment`. */
export function modelPath(token: string): string | undefined {
    const m = /^kubernetes:([^/]+)\/([^:]+):(.+)$/.exec(token);
    if (!m) return undefined;
    const [, group, version, kind] = m;
    const groupPath: Record<string, string> = {
        core: "",
        apps: "apps",
        batch: "batch",
        policy: "policy",
        "networking.k8s.io": "networking.k8s.io",
        networking: "networking.k8s.io",
        autoscaling: "autoscaling",
        "rbac.authorization.k8s.io": "rbac.authorization.k8s.io",
        rbac: "rbac.authorization.k8s.io",
    };
    if (!(group in groupPath)) return undefined;
    const g = groupPath[group];
    return `kubernetes-models/${g ? `${g}/` : ""}${version}/${kind}`;
}

/** Throws with the schema error (and the object) when `r` is not a valid Kubernetes object. */
export function validateAgainstSchema(r: RecordedResource): void {
    const path = modelPath(r.type);
    if (!path) throw new Error(`no Kubernetes schema known for ${r.type}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path) as Record<string, ModelClass>;
    const kind = r.type.split(":")[2];
    const Model = mod[kind];
    if (!Model) throw new Error(`${path} has no export ${kind}`);
    try {
        new Model(r.inputs).validate();
    } catch (e) {
        throw new Error(`${r.type} ${r.name} fails schema validation: ${(e as Error).message}\n${JSON.stringify(r.inputs, null, 2)}`);
    }
}

export function isKubernetesObject(r: RecordedResource): boolean {
    return r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm") && r.type !== "pulumi:providers:kubernetes";
}
