/**
 * Renders the platform-neutral CLI server spec (components/contract/server.ts) as Kubernetes objects. Pure
 * functions: the fleet components call them, and tests call them without mocks.
 */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlainEnvVar, ProbeSpec, SecretEnvVar, ServerResources, ServerSpec, telemetryInstanceEnv } from "../contract/server";
import { LABEL_KEYS } from "../contract/labels";

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type Probe = k8s.types.input.core.v1.Probe;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;

export const CONTAINER_NAME = "copilot";
export const PORT_NAME = "jsonrpc";
/** Label keys and values that users, policies and the smoke suite rely on (docs/operations.md "Observability" documents them). */
export const LABELS = {
    ...LABEL_KEYS,
    /** Put this label on client pods (value: the fleet name) to let them reach the fleet through its NetworkPolicy. */
    client: "copilot-fleet.github.com/client",
} as const;

/**
 * Pod-template annotation holding a digest of the Secret the pods read. Env from `secretKeyRef` is
 * resolved once, at container start, so a changed token in the Secret alone restarts nothing; with
 * the digest in the template the same change rolls the Deployment by itself.
 */
export const CREDENTIALS_DIGEST_ANNOTATION = "copilot-fleet.github.com/credentials-digest";

/**
 * `sha256:<hex>` over a Secret's data (keys sorted, so the order they were added in does not matter).
 *
 * A Pulumi secret although a SHA-256 cannot be reversed: the generated tokens (~285 bits) and GitHub's
 * cannot be guessed either, but a connectionToken someone chose might, and a plain digest in state or
 * in a preview would let anyone holding it check guesses offline. In the cluster the annotation is
 * readable by whoever may read Deployments (the built-in `view` role, which cannot read Secrets): the
 * same holds there, which is one more reason to leave connectionToken unset and let it be generated.
 */
export function credentialsDigest(data: Readonly<Record<string, pulumi.Input<string>>>): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all(data).apply((values) => {
            const hash = createHash("sha256").update("copilot-fleet credentials v1\n");
            for (const key of Object.keys(values).sort()) hash.update(`${JSON.stringify(key)}=${JSON.stringify(values[key])}\n`);
            return `sha256:${hash.digest("hex")}`;
        }),
    );
}

/** Volume names inside the pod. */
export const VOLUMES = {
    sessionState: "session-state",
    copilotHome: "copilot-home",
    cache: "cli-cache",
    tmp: "tmp",
} as const;

/** Selector labels of a fleet's CLI server pods (stable: never add a label here after the first deploy). */
export function serverSelector(fleet: string): Record<string, string> {
    return { [LABELS.name]: "copilot-cli", [LABELS.instance]: fleet, [LABELS.component]: "server" };
}

export function serverLabels(fleet: string, cliVersion: string): Record<string, string> {
    return { ...serverSelector(fleet), [LABELS.partOf]: "copilot-fleet", [LABELS.version]: cliVersion, [LABELS.managedBy]: "pulumi" };
}

/** `k=v,k=v`, the form `kubectl -l` and the Kubernetes API take. */
export function selectorString(labels: Record<string, string>): string {
    return Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
}

/** A container security context that meets Pod Security "restricted", with a read-only root filesystem. */
export function restrictedSecurityContext(uid: number, gid: number): k8s.types.input.core.v1.SecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: gid,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

export function renderProbe(p: ProbeSpec): Probe {
    return {
        exec: { command: [...p.exec] },
        initialDelaySeconds: p.initialDelaySeconds,
        periodSeconds: p.periodSeconds,
        timeoutSeconds: p.timeoutSeconds,
        failureThreshold: p.failureThreshold,
    };
}

export function renderPlainEnv(env: readonly PlainEnvVar[]): EnvVar[] {
    return env.map((e) => ({ name: e.name, value: e.value }));
}

/** Secret values by `secretKeyRef` into `secretName`, never as plain values. */
export function renderSecretEnv(env: readonly SecretEnvVar[], secretName: pulumi.Input<string>): EnvVar[] {
    return env.map((e) => ({ name: e.name, valueFrom: { secretKeyRef: { name: secretName, key: e.secretKey } } }));
}

export function renderResources(r: ServerResources): ResourceRequirements {
    return { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { cpu: r.cpuLimit, memory: r.memoryLimit } };
}

/**
 * The CLI container. Tokens come from `secretName` by `secretKeyRef` only; nothing sensitive is a
 * plain value. Only `args` is set so the image's init entrypoint stays PID 1.
 */
export function renderServerContainer(spec: ServerSpec, image: pulumi.Input<string>, secretName: pulumi.Input<string>): Container {
    return {
        name: CONTAINER_NAME,
        image,
        imagePullPolicy: "IfNotPresent",
        args: [...spec.args],
        ports: [{ name: PORT_NAME, containerPort: spec.port, protocol: "TCP" }],
        env: [
            ...renderPlainEnv(spec.env),
            // Telemetry names each server by its pod: POD_NAME must come first for the kubelet to expand $(POD_NAME).
            ...(spec.telemetry ? [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }] : []),
            ...renderPlainEnv(telemetryInstanceEnv(spec, "$(POD_NAME)")),
            ...renderSecretEnv(spec.secretEnv, secretName),
        ],
        resources: renderResources(spec.resources),
        startupProbe: renderProbe(spec.startupProbe),
        readinessProbe: renderProbe(spec.readinessProbe),
        livenessProbe: renderProbe(spec.livenessProbe),
        // Drain: the pod is already out of the Service's endpoints when preStop runs; sleeping lets
        // kube-proxy and cloud load balancers stop sending new connections before SIGTERM arrives.
        lifecycle: { preStop: { exec: { command: ["sleep", String(spec.drainSeconds)] } } },
        securityContext: restrictedSecurityContext(spec.uid, spec.gid),
        volumeMounts: [
            // Local disk for COPILOT_HOME (SQLite session store, logs): SQLite on SMB/NFS fails with "database is locked".
            { name: VOLUMES.copilotHome, mountPath: spec.copilotHome },
            // Shared storage at the session-state path only.
            { name: VOLUMES.sessionState, mountPath: spec.sessionStatePath },
            { name: VOLUMES.cache, mountPath: spec.cachePath },
            { name: VOLUMES.tmp, mountPath: "/tmp" },
        ],
        terminationMessagePolicy: "FallbackToLogsOnError",
    };
}

/** Pod volumes for a server; `sessionState` is the shared (or per-user) claim. */
export function renderServerVolumes(claimName: pulumi.Input<string>): Volume[] {
    return [
        { name: VOLUMES.sessionState, persistentVolumeClaim: { claimName } },
        { name: VOLUMES.copilotHome, emptyDir: { sizeLimit: "1Gi" } },
        // The CLI unpacks ~235 MB here on first start.
        { name: VOLUMES.cache, emptyDir: { sizeLimit: "1Gi" } },
        { name: VOLUMES.tmp, emptyDir: { sizeLimit: "512Mi" } },
    ];
}

export function renderPodSecurityContext(spec: ServerSpec): PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: spec.uid,
        runAsGroup: spec.gid,
        // Makes the shared volume writable by the CLI user on storage that honours fsGroup.
        fsGroup: spec.gid,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
    };
}

type PodSpec = k8s.types.input.core.v1.PodSpec;

/**
 * The server pod: one container from `spec`, its volumes on `claimName`, the pod security context and
 * shutdown budget. Shared by the shared fleet and every per-user server so they cannot drift apart.
 * No service-account token (the CLI never calls the API server) and no service links: in a
 * namespace with a Service per user, service links would add env vars per Service to every pod.
 */
export function renderServerPodSpec(
    spec: ServerSpec,
    image: pulumi.Input<string>,
    secretName: pulumi.Input<string>,
    claimName: pulumi.Input<string>,
    extra: Partial<PodSpec> = {},
): PodSpec {
    return {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: spec.terminationGraceSeconds,
        securityContext: renderPodSecurityContext(spec),
        ...extra,
        containers: [renderServerContainer(spec, image, secretName)],
        volumes: renderServerVolumes(claimName),
    };
}

/** Spread replicas across nodes and zones; `ScheduleAnyway` so a small cluster still schedules them. */
export function renderSpread(selector: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
    return [
        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
    ];
}

/** Annotations that make a LoadBalancer Service private on the major clouds; each controller ignores the others'. */
export const INTERNAL_LB_ANNOTATIONS: Readonly<Record<string, string>> = {
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "Internal",
};
