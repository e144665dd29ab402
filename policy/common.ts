/**
 * Platform-neutral building blocks of the policy pack: a small "container view" that each platform
 * adapter (kubernetes.ts, docker.ts, aci.ts) fills in, and the predicates the rules share.
 *
 * Views expose functions rather than precomputed fields on purpose: during `pulumi preview` the
 * engine hands policies a proxy that throws on any unknown value (an image digest from a build in
 * the same stack, a generated name). Reading only what a rule needs keeps every other rule runnable
 * in preview instead of degrading all of them to "can't run during preview".
 */
import { CLI_HOME, COPILOT_HOME, ENV, SESSION_STATE_PATH } from "../components/contract/server";

export type Platform = "kubernetes" | "docker" | "aci";

/** How an environment variable reaches the container. */
export type EnvSource =
    /** A literal in the resource definition (and so in state, previews and `kubectl get -o yaml`). */
    | "plain"
    /** Kubernetes `valueFrom.secretKeyRef`, ACI `secureValue`. */
    | "secret"
    /** A reference to something that is not a secret store (ConfigMap, field ref). */
    | "other-ref";

export interface EnvView {
    readonly name: string;
    readonly source: EnvSource;
    /** The literal value, when the definition holds one (plain env, ACI secureValue, docker envs). */
    readonly value?: string;
    /** Kubernetes: the Secret the value comes from. */
    readonly secretName?: string;
}

export type MountKind =
    /** Network or persistent storage: PVC, NFS, Azure Files, docker volumes and bind mounts. */
    | "shared"
    /** Node-local scratch: emptyDir, tmpfs. */
    | "local"
    /** Mounted from a secret store (Kubernetes Secret volume, ACI secret volume). */
    | "secret"
    /** ConfigMap, downward API and similar read-only metadata. */
    | "config";

export interface MountView {
    readonly path: string;
    readonly volume: string;
    readonly kind: MountKind;
    readonly readOnly: boolean;
    /** Identity of the backing storage, comparable across resources (e.g. `pvc:ns/name`, `azurefile:acct/share`). */
    readonly storageId?: string;
    /** Kubernetes: the volume comes from a StatefulSet volumeClaimTemplate (one claim per pod). */
    readonly perPodClaim?: boolean;
}

export type Tristate = "yes" | "no" | "unknown";

export interface ContainerView {
    readonly platform: Platform;
    /** Human-readable location for messages, e.g. `container "copilot" in Deployment "fleet"`. */
    readonly where: string;
    /** Init containers run to completion before the pod starts: probes do not apply to them. */
    readonly init: boolean;
    readonly isServer: () => boolean;
    readonly isRedis: () => boolean;
    /** Labels (Kubernetes pod labels, docker labels, ACI group tags) of the workload. */
    readonly labels: () => Readonly<Record<string, string>>;
    readonly image: () => string | undefined;
    /** Entrypoint/command followed by args, as one list. */
    readonly commandLine: () => readonly string[];
    readonly env: () => readonly EnvView[];
    readonly mounts: () => readonly MountView[];
    /** Whether a readiness and a liveness check are declared (docker: its one HEALTHCHECK counts for both). */
    readonly probes: () => { readonly readiness: boolean; readonly liveness: boolean };
    /** Which resource requests and limits are declared. */
    readonly resources: () => ResourceView;
    readonly privilege: () => PrivilegeView;
    /** Files the platform writes into the container with known content (docker `uploads`). */
    readonly providedFiles: () => readonly { readonly path: string; readonly content?: string }[];
}

/** true: declared; false: missing; "n/a": the platform has no such setting. */
export type Declared = boolean | "n/a";

export interface ResourceView {
    readonly cpuRequest: Declared;
    readonly memoryRequest: Declared;
    readonly cpuLimit: Declared;
    readonly memoryLimit: Declared;
}

export interface PrivilegeView {
    /** "yes": declared root; "no": declared non-root; "unknown": not declared (the image decides). */
    readonly runsAsRoot: Tristate;
    readonly privileged: boolean;
    /** "no" only when privilege escalation is explicitly turned off. */
    readonly escalation: Tristate;
    /** Whether the platform can declare these at all (ACI Standard SKU has no security context). */
    readonly declarable: boolean;
}

/** Label/tag keys our program sets (components/kubernetes/render.ts LABELS; ACI tags and docker labels reuse them). */
export const LABEL = {
    name: "app.kubernetes.io/name",
    component: "app.kubernetes.io/component",
    instance: "app.kubernetes.io/instance",
    partOf: "app.kubernetes.io/part-of",
    user: "copilot-fleet.github.com/user",
} as const;

export function labelsSayServer(labels: Readonly<Record<string, string>>): boolean {
    return labels[LABEL.name] === "copilot-cli" && labels[LABEL.component] === "server";
}

export function labelsSayRedis(labels: Readonly<Record<string, string>>): boolean {
    return labels[LABEL.name] === "redis";
}

/** `copilot ... --headless`, also inside a shell string (`sh -c "exec copilot --headless"`). */
export function commandLooksLikeServer(commandLine: readonly string[]): boolean {
    const joined = ` ${commandLine.join(" ")} `;
    return /[\s/"']copilot[\s"']/.test(joined) && /[\s"']--headless[\s="']/.test(joined);
}

/**
 * The in-image session cleanup (components/contract/cleanup.ts CLEANUP_PATH). It runs from the server image and
 * holds the connection token, so image- and env-based server heuristics would otherwise claim it.
 */
export function commandLooksLikeCleanup(commandLine: readonly string[]): boolean {
    return commandLine.some((a) => /(^|\/)copilot-session-cleanup$/.test(a));
}

export function commandLooksLikeRedis(commandLine: readonly string[], image: string | undefined): boolean {
    if (commandLine.some((a) => /(^|[\s/])redis-server(\s|$)/.test(a))) return true;
    return image !== undefined && /(^|\/)redis(:|@|$)/.test(image);
}

/** Names whose values are credentials: the CLI's own, plus anything named like a token, key, password or secret. */
export const SENSITIVE_ENV_NAMES: readonly string[] = [ENV.connectionToken, ENV.githubToken, ENV.providerApiKey];

export function isSensitiveEnvName(name: string): boolean {
    return SENSITIVE_ENV_NAMES.includes(name) || /TOKEN|KEY|PASSWORD|PASSWD|SECRET/i.test(name);
}

/**
 * Why an image reference is not pinned, or undefined when it is. Pinned means a digest
 * (`repo@sha256:…`, or a bare image id `sha256:…` as the docker provider returns) or an exact
 * version tag (`1.0.102`, `v1.2.3`, `7.4.2-bookworm`). `latest`, no tag, and floating tags such as
 * `7` or `stable` are not: a restart could pull a different CLI than the one that was reviewed.
 */
export function imagePinProblem(image: string | undefined): string | undefined {
    if (image === undefined || image.trim() === "") return "has no image reference";
    if (/^sha256:[0-9a-f]{64}$/.test(image)) return undefined;
    if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
    if (image.includes("@")) return `"${image}" has a digest that is not sha256:<64 hex>`;
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    const colon = lastSegment.indexOf(":");
    if (colon < 0) return `"${image}" has no tag, which means "latest"`;
    const tag = lastSegment.slice(colon + 1);
    if (tag === "latest") return `"${image}" uses the "latest" tag`;
    if (!/^v?\d+\.\d+\.\d+([-+._][0-9A-Za-z][0-9A-Za-z._-]*)?$/.test(tag)) {
        return `"${image}" uses the floating tag "${tag}" (not an exact major.minor.patch version)`;
    }
    return undefined;
}

/** Where shared storage may be mounted on a CLI server, and the paths that must stay on local disk. */
export const SESSION_PATH = SESSION_STATE_PATH;
export const LOCAL_ONLY_PATHS: readonly string[] = [COPILOT_HOME, CLI_HOME];

function normalisePath(p: string): string {
    return p.length > 1 ? p.replace(/\/+$/, "") : p;
}

export function isSessionStatePath(p: string): boolean {
    return normalisePath(p) === SESSION_STATE_PATH;
}

/** Config every public-endpoint check reads (policy config, per stack). */
export interface PublicEndpointConfig {
    /** Opt in to internet-facing endpoints for this stack (the `exposure=public` stack setting). */
    readonly allowPublicEndpoints?: boolean;
}

/** Source ranges that mean "everyone". */
export function isOpenRange(cidr: string): boolean {
    const c = cidr.trim();
    return c === "0.0.0.0/0" || c === "::/0" || c === "*" || c === "0.0.0.0" || c === "Internet";
}

/** `a` is the same path as `b` or one of its ancestors. */
export function isSameOrAncestor(a: string, b: string): boolean {
    const x = normalisePath(a);
    const y = normalisePath(b);
    return x === y || x === "/" || y.startsWith(`${x}/`);
}

export function asRecord(v: unknown): Record<string, string> {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (typeof val === "string") out[k] = val;
    }
    return out;
}

/** The type token a generated resource class carries (`kubernetes:apps/v1:Deployment`); the static is not in the .d.ts. */
export function pulumiTypeOf(resourceClass: object): string {
    const t = (resourceClass as { __pulumiType?: unknown }).__pulumiType;
    if (typeof t !== "string" || t === "") throw new Error("resource class without a Pulumi type token");
    return t;
}
