/**
 * Kubernetes adapter: finds the pod template inside every workload kind and renders its containers
 * as platform-neutral {@link ContainerView}s, plus the stack-level lookups (claims, NetworkPolicies,
 * autoscalers) the Kubernetes-only rules need.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PolicyResource, ReportViolation, ResourceValidation, ResourceValidationArgs, validateResourceOfType } from "@pulumi/policy";
import {
    asRecord,
    pulumiTypeOf,
    commandLooksLikeRedis,
    commandLooksLikeServer,
    ContainerView,
    EnvView,
    labelsSayRedis,
    labelsSayServer,
    MountKind,
    MountView,
} from "./common";

type PodSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodSpec>;
type Container = pulumi.Unwrap<k8s.types.input.core.v1.Container>;
type Volume = pulumi.Unwrap<k8s.types.input.core.v1.Volume>;
type Probe = pulumi.Unwrap<k8s.types.input.core.v1.Probe>;
type SecurityContext = pulumi.Unwrap<k8s.types.input.core.v1.SecurityContext>;
type PodSecurityContext = pulumi.Unwrap<k8s.types.input.core.v1.PodSecurityContext>;
type ObjectMeta = pulumi.Unwrap<k8s.types.input.meta.v1.ObjectMeta>;
type LabelSelector = pulumi.Unwrap<k8s.types.input.meta.v1.LabelSelector>;

export const TYPES = {
    deployment: pulumiTypeOf(k8s.apps.v1.Deployment),
    statefulSet: pulumiTypeOf(k8s.apps.v1.StatefulSet),
    daemonSet: pulumiTypeOf(k8s.apps.v1.DaemonSet),
    replicaSet: pulumiTypeOf(k8s.apps.v1.ReplicaSet),
    pod: pulumiTypeOf(k8s.core.v1.Pod),
    job: pulumiTypeOf(k8s.batch.v1.Job),
    cronJob: pulumiTypeOf(k8s.batch.v1.CronJob),
    service: pulumiTypeOf(k8s.core.v1.Service),
    pvc: pulumiTypeOf(k8s.core.v1.PersistentVolumeClaim),
    networkPolicy: pulumiTypeOf(k8s.networking.v1.NetworkPolicy),
    hpa: pulumiTypeOf(k8s.autoscaling.v2.HorizontalPodAutoscaler),
    secret: pulumiTypeOf(k8s.core.v1.Secret),
} as const;

/** A workload's pod template, whatever kind holds it. */
export interface Workload {
    readonly type: string;
    readonly kind: string;
    /** metadata.name, else the Pulumi resource name. */
    readonly name: string;
    readonly namespace: string;
    readonly podLabels: Readonly<Record<string, string>>;
    readonly podSpec: PodSpec;
    /** Declared replicas (Kubernetes default 1); undefined for kinds without replicas. */
    readonly replicas?: number;
    /** StatefulSet volumeClaimTemplates names: one claim per pod, never shared. */
    readonly claimTemplates: readonly string[];
}

const KIND_BY_TYPE: Readonly<Record<string, string>> = {
    [TYPES.deployment]: "Deployment",
    [TYPES.statefulSet]: "StatefulSet",
    [TYPES.daemonSet]: "DaemonSet",
    [TYPES.replicaSet]: "ReplicaSet",
    [TYPES.pod]: "Pod",
    [TYPES.job]: "Job",
    [TYPES.cronJob]: "CronJob",
};

/** The namespace a namespaced object lands in: its own, else the provider's default, else "default". */
export function namespaceOf(meta: ObjectMeta | undefined, provider?: { props: Record<string, unknown> }): string {
    if (meta?.namespace) return meta.namespace;
    const fromProvider = provider?.props["namespace"];
    return typeof fromProvider === "string" && fromProvider !== "" ? fromProvider : "default";
}

interface TemplateHolder {
    metadata?: ObjectMeta;
    spec?: {
        replicas?: number;
        template?: { metadata?: ObjectMeta; spec?: PodSpec };
        volumeClaimTemplates?: { metadata?: ObjectMeta }[];
        jobTemplate?: { spec?: { template?: { metadata?: ObjectMeta; spec?: PodSpec } } };
    } & Partial<PodSpec>;
}

/** Reads the pod template out of any workload kind; undefined for other types or templates without containers. */
export function workloadOf(
    type: string,
    resourceName: string,
    props: Record<string, unknown>,
    provider?: { props: Record<string, unknown> },
): Workload | undefined {
    const kind = KIND_BY_TYPE[type];
    if (kind === undefined) return undefined;
    const p = props as TemplateHolder;
    let podMeta: ObjectMeta | undefined;
    let podSpec: PodSpec | undefined;
    if (kind === "Pod") {
        podMeta = p.metadata;
        podSpec = p.spec as PodSpec | undefined;
    } else if (kind === "CronJob") {
        podMeta = p.spec?.jobTemplate?.spec?.template?.metadata;
        podSpec = p.spec?.jobTemplate?.spec?.template?.spec;
    } else {
        podMeta = p.spec?.template?.metadata;
        podSpec = p.spec?.template?.spec;
    }
    if (podSpec === undefined || !Array.isArray(podSpec.containers)) return undefined;
    const hasReplicas = kind === "Deployment" || kind === "StatefulSet" || kind === "ReplicaSet";
    return {
        type,
        kind,
        name: p.metadata?.name ?? resourceName,
        namespace: namespaceOf(p.metadata, provider),
        podLabels: asRecord(podMeta?.labels),
        podSpec,
        replicas: hasReplicas ? (typeof p.spec?.replicas === "number" ? p.spec.replicas : 1) : undefined,
        claimTemplates: kind === "StatefulSet" ? (p.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? "").filter((n) => n !== "") : [],
    };
}

function hasHandler(p: Probe | undefined): boolean {
    return p !== undefined && (p.exec !== undefined || p.httpGet !== undefined || p.tcpSocket !== undefined || p.grpc !== undefined);
}

function quantitySet(map: Record<string, unknown> | undefined, key: string): boolean {
    const v = map?.[key];
    return (typeof v === "string" && v.trim() !== "") || (typeof v === "number" && v > 0);
}

function volumeKind(v: Volume | undefined): MountKind {
    if (v === undefined) return "shared";
    if (v.emptyDir !== undefined) return "local";
    if (v.secret !== undefined) return "secret";
    if (v.projected !== undefined) {
        const sources = v.projected.sources ?? [];
        return sources.length > 0 && sources.every((s) => s.secret !== undefined) ? "secret" : "config";
    }
    if (v.configMap !== undefined || v.downwardAPI !== undefined) return "config";
    return "shared";
}

function storageIdOf(namespace: string, v: Volume | undefined): string | undefined {
    if (v === undefined) return undefined;
    if (v.persistentVolumeClaim !== undefined) return `pvc:${namespace}/${v.persistentVolumeClaim.claimName}`;
    if (v.nfs !== undefined) return `nfs:${v.nfs.server}:${v.nfs.path}`;
    if (v.azureFile !== undefined) return `azurefile:${v.azureFile.secretName}/${v.azureFile.shareName}`;
    if (v.hostPath !== undefined) return `hostpath:${v.hostPath.path}`;
    if (v.secret !== undefined) return `secret:${namespace}/${v.secret.secretName}`;
    return undefined;
}

/** Secrets a pod reads (env refs, envFrom, secret and projected volumes), namespace-qualified. */
export function secretsReferenced(w: Workload): string[] {
    const out = new Set<string>();
    const add = (name: string | undefined) => {
        if (name) out.add(`${w.namespace}/${name}`);
    };
    for (const c of [...w.podSpec.containers, ...(w.podSpec.initContainers ?? [])]) {
        for (const e of c.env ?? []) add(e.valueFrom?.secretKeyRef?.name);
        for (const e of c.envFrom ?? []) add(e.secretRef?.name);
    }
    for (const v of w.podSpec.volumes ?? []) {
        add(v.secret?.secretName);
        for (const s of v.projected?.sources ?? []) add(s.secret?.name);
        add(v.azureFile?.secretName);
    }
    return [...out];
}

function envOf(c: Container): EnvView[] {
    return (c.env ?? []).map((e): EnvView => {
        if (e.valueFrom === undefined) return { name: e.name, source: "plain", value: e.value ?? "" };
        const ref = e.valueFrom.secretKeyRef;
        if (ref !== undefined && ref.name && ref.key) return { name: e.name, source: "secret", secretName: ref.name };
        return { name: e.name, source: "other-ref" };
    });
}

function containerView(w: Workload, c: Container, isInit: boolean): ContainerView {
    const commandLine = () => [...(c.command ?? []), ...(c.args ?? [])];
    const pod: PodSecurityContext = w.podSpec.securityContext ?? {};
    const ctr: SecurityContext = c.securityContext ?? {};
    const mounts = (): MountView[] => {
        const volumes = w.podSpec.volumes ?? [];
        return (c.volumeMounts ?? []).map((m) => {
            const v = volumes.find((x) => x.name === m.name);
            const perPodClaim = v === undefined && w.claimTemplates.includes(m.name);
            return {
                path: m.mountPath,
                volume: m.name,
                kind: perPodClaim ? "shared" : volumeKind(v),
                readOnly: m.readOnly === true,
                storageId: perPodClaim ? `pvc-template:${w.namespace}/${w.name}/${m.name}` : storageIdOf(w.namespace, v),
                perPodClaim,
            };
        });
    };
    const containerCount = w.podSpec.containers.length;
    return {
        platform: "kubernetes",
        init: isInit,
        where: `${isInit ? "init container" : "container"} "${c.name}" of ${w.kind} "${w.name}"`,
        isServer: () =>
            !isInit && ((labelsSayServer(w.podLabels) && (c.name === "copilot" || containerCount === 1)) || commandLooksLikeServer(commandLine())),
        isRedis: () => !isInit && ((labelsSayRedis(w.podLabels) && (c.name === "redis" || containerCount === 1)) || commandLooksLikeRedis(commandLine(), c.image)),
        labels: () => w.podLabels,
        image: () => c.image,
        commandLine,
        env: () => envOf(c),
        mounts,
        probes: () => ({ readiness: hasHandler(c.readinessProbe), liveness: hasHandler(c.livenessProbe) }),
        resources: () => {
            const req = c.resources?.requests as Record<string, unknown> | undefined;
            const lim = c.resources?.limits as Record<string, unknown> | undefined;
            return {
                cpuRequest: quantitySet(req, "cpu"),
                memoryRequest: quantitySet(req, "memory"),
                cpuLimit: quantitySet(lim, "cpu"),
                memoryLimit: quantitySet(lim, "memory"),
            };
        },
        providedFiles: () => [],
        privilege: () => {
            const runAsUser = ctr.runAsUser ?? pod.runAsUser;
            const runAsNonRoot = ctr.runAsNonRoot ?? pod.runAsNonRoot;
            let runsAsRoot: "yes" | "no" | "unknown" = "unknown";
            if (runAsUser === 0) runsAsRoot = "yes";
            else if (runAsNonRoot === true || (typeof runAsUser === "number" && runAsUser > 0)) runsAsRoot = "no";
            return {
                runsAsRoot,
                privileged: ctr.privileged === true,
                escalation: ctr.allowPrivilegeEscalation === false ? "no" : ctr.allowPrivilegeEscalation === true ? "yes" : "unknown",
                declarable: true,
            };
        },
    };
}

/** Every container of the workload (init containers too, flagged so rules can skip them). */
export function containerViews(w: Workload): ContainerView[] {
    return [
        ...(w.podSpec.initContainers ?? []).map((c) => containerView(w, c, true)),
        ...w.podSpec.containers.map((c) => containerView(w, c, false)),
    ];
}

/**
 * One typed validator per workload class. `validateResourceOfType` with the provider's real classes,
 * so the engine's type filter applies and `props` are the real input shapes.
 */
export function workloadValidators(check: (w: Workload, args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidation[] {
    const run = (args: ResourceValidationArgs, props: object, report: ReportViolation) => {
        const w = workloadOf(args.type, args.name, props as Record<string, unknown>, args.provider);
        if (w === undefined) {
            args.notApplicable("no pod template with containers");
            return;
        }
        check(w, args, report);
    };
    return [
        validateResourceOfType(k8s.apps.v1.Deployment, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.apps.v1.StatefulSet, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.apps.v1.DaemonSet, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.apps.v1.ReplicaSet, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.core.v1.Pod, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.batch.v1.Job, (props, args, report) => run(args, props, report)),
        validateResourceOfType(k8s.batch.v1.CronJob, (props, args, report) => run(args, props, report)),
    ];
}

/** Workloads in a stack, with the resource they came from (for violation URNs). */
export function stackWorkloads(resources: readonly PolicyResource[]): { resource: PolicyResource; workload: Workload }[] {
    const out: { resource: PolicyResource; workload: Workload }[] = [];
    for (const r of resources) {
        const w = workloadOf(r.type, r.name, r.props, r.provider);
        if (w !== undefined) out.push({ resource: r, workload: w });
    }
    return out;
}

/** Label-selector semantics (matchLabels AND matchExpressions); an empty selector selects every pod. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
    if (selector === undefined) return true;
    for (const [k, v] of Object.entries(asRecord(selector.matchLabels))) {
        if (labels[k] !== v) return false;
    }
    for (const e of selector.matchExpressions ?? []) {
        const has = e.key in labels;
        const values = e.values ?? [];
        switch (e.operator) {
            case "In":
                if (!has || !values.includes(labels[e.key])) return false;
                break;
            case "NotIn":
                if (has && values.includes(labels[e.key])) return false;
                break;
            case "Exists":
                if (!has) return false;
                break;
            case "DoesNotExist":
                if (has) return false;
                break;
            default:
                return false;
        }
    }
    return true;
}
