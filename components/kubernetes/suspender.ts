/**
 * The idle suspender on Kubernetes: one small Deployment per per-user fleet that scales idle users'
 * Deployments to zero (components/contract/suspend.ts says what runs and why in a Node.js image).
 *
 * Least privilege: its ServiceAccount's Role can get the fleet's user Deployments and get, patch and
 * update their `scale` subresource, each by resource name, and read the wake-marks ConfigMap; nothing
 * else. A second Role, `<fleet>-waker`, is what a backend's ServiceAccount is bound to for
 * `ensureRunning`: the same scale rights plus writing its wake mark. Neither can change what a pod runs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    DEFAULT_SUSPENDER_IMAGE,
    SUSPENDER_CODE_DIR,
    SUSPENDER_RESOURCES,
    SUSPENDER_UID,
    SUSPENDER_USERS_DIR,
    suspenderCode,
    suspenderEnv,
    suspenderProbeCommand,
    suspenderUsersJson,
    SuspenderUserEntry,
} from "../contract/suspend";
import { credentialsDigest, CREDENTIALS_DIGEST_ANNOTATION, LABELS, serverSelector } from "./render";
import { dnsEgressRule } from "./egress";
import { componentType } from "../contract/types";

/** Ports the Kubernetes API answers on: 443 for the `kubernetes` Service, 6443 where it is reached directly. */
export const KUBE_API_PORTS = [443, 6443] as const;

/** Label values of the suspender's pod: a component of the fleet, never selected as a server. */
export function suspenderLabels(fleet: string): Record<string, string> {
    return { [LABELS.name]: "copilot-idle-suspender", [LABELS.instance]: fleet, [LABELS.component]: "idle-suspender", [LABELS.partOf]: "copilot-fleet", [LABELS.managedBy]: "pulumi" };
}

export function suspenderSelector(fleet: string): Record<string, string> {
    return { [LABELS.name]: "copilot-idle-suspender", [LABELS.instance]: fleet, [LABELS.component]: "idle-suspender" };
}

/** RBAC rules, by resource name: the suspender's, and the wakers' (backends). */
export function suspenderRules(deployments: readonly string[], wakeMarks: string, role: "suspender" | "waker"): k8s.types.input.rbac.v1.PolicyRule[] {
    const names = [...deployments];
    return [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: names },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "patch", "update"], resourceNames: names },
        { apiGroups: [""], resources: ["configmaps"], verbs: role === "waker" ? ["get", "patch"] : ["get"], resourceNames: [wakeMarks] },
    ];
}

export interface IdleSuspenderArgs {
    readonly namespace: pulumi.Input<string>;
    /** The fleet's name (labels, object names). */
    readonly fleet: string;
    readonly idleMinutes: number;
    /** user id → where the suspender dials that user's server, its token, and its Deployment. */
    readonly users: pulumi.Input<Record<string, pulumi.Input<SuspenderUserEntry>>>;
    /** Every user Deployment name (the Roles' resourceNames). */
    readonly deployments: readonly string[];
    /** The Node.js image. Default DEFAULT_SUSPENDER_IMAGE. */
    readonly image?: string;
    /** The servers' port (4321). */
    readonly port: number;
}

/** ServiceAccount, Roles, RoleBinding, wake-marks ConfigMap, code ConfigMap, users Secret, Deployment. */
export class KubernetesIdleSuspender extends pulumi.ComponentResource {
    public readonly wakerRole: string;
    public readonly wakeMarks: string;
    public readonly serviceAccount: string;

    constructor(name: string, args: IdleSuspenderArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("IdleSuspender"), name, {}, opts);
        const child = { parent: this };
        const labels = suspenderLabels(args.fleet);
        const meta = (n: string) => ({ name: n, namespace: args.namespace, labels });
        const names = { sa: name, role: name, waker: `${args.fleet}-waker`, binding: name, marks: `${args.fleet}-wake-marks`, code: `${name}-code`, users: `${name}-users`, deployment: name };

        const sa = new k8s.core.v1.ServiceAccount(names.sa, { metadata: meta(names.sa), automountServiceAccountToken: false }, child);
        const role = new k8s.rbac.v1.Role(names.role, { metadata: meta(names.role), rules: suspenderRules(args.deployments, names.marks, "suspender") }, child);
        new k8s.rbac.v1.Role(names.waker, { metadata: meta(names.waker), rules: suspenderRules(args.deployments, names.marks, "waker") }, child);
        const binding = new k8s.rbac.v1.RoleBinding(
            names.binding,
            {
                metadata: meta(names.binding),
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.role },
                subjects: [{ kind: "ServiceAccount", name: names.sa, namespace: args.namespace }],
            },
            { parent: this, dependsOn: [sa, role] },
        );
        // Wakes write into data; Pulumi sets none of it, so an update never erases a mark.
        const marks = new k8s.core.v1.ConfigMap(names.marks, { metadata: meta(names.marks) }, child);
        const codeData = suspenderCode();
        const code = new k8s.core.v1.ConfigMap(names.code, { metadata: meta(names.code), data: codeData }, child);
        const usersData = { "users.json": pulumi.output(args.users).apply((u) => suspenderUsersJson(u as Record<string, SuspenderUserEntry>)) };
        const users = new k8s.core.v1.Secret(names.users, { metadata: meta(names.users), type: "Opaque", stringData: usersData }, child);
        const probe = { exec: { command: suspenderProbeCommand(args.idleMinutes) }, initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 };

        new k8s.apps.v1.Deployment(
            names.deployment,
            {
                metadata: meta(names.deployment),
                spec: {
                    replicas: 1,
                    // Two suspenders would only repeat each other's work; Recreate keeps it at one.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: suspenderSelector(args.fleet) },
                    template: {
                        metadata: {
                            labels,
                            // The code or a token changed: restart the suspender with it.
                            annotations: { [CREDENTIALS_DIGEST_ANNOTATION]: credentialsDigest({ ...usersData, code: JSON.stringify(codeData) }) },
                        },
                        spec: {
                            serviceAccountName: names.sa,
                            // Only this container gets the token, through a projected volume (not every container by default).
                            automountServiceAccountToken: true,
                            // fsGroup: the users Secret's files are root-owned; group-readable (0440) by this gid only.
                            securityContext: { runAsNonRoot: true, runAsUser: SUSPENDER_UID, runAsGroup: SUSPENDER_UID, fsGroup: SUSPENDER_UID, seccompProfile: { type: "RuntimeDefault" } },
                            containers: [
                                {
                                    name: "suspender",
                                    image: args.image ?? DEFAULT_SUSPENDER_IMAGE,
                                    command: ["node", `${SUSPENDER_CODE_DIR}/suspender-main.js`],
                                    env: [
                                        ...Object.entries(suspenderEnv("kubernetes", args.idleMinutes, undefined, names.marks)).map(([n, value]) => ({ name: n, value })),
                                        { name: "SUSPENDER_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                                    ],
                                    resources: {
                                        requests: { cpu: SUSPENDER_RESOURCES.cpuRequest, memory: SUSPENDER_RESOURCES.memoryRequest },
                                        limits: { cpu: SUSPENDER_RESOURCES.cpuLimit, memory: SUSPENDER_RESOURCES.memoryLimit },
                                    },
                                    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
                                    readinessProbe: probe,
                                    livenessProbe: probe,
                                    volumeMounts: [
                                        { name: "code", mountPath: SUSPENDER_CODE_DIR, readOnly: true },
                                        { name: "users", mountPath: SUSPENDER_USERS_DIR, readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "code", configMap: { name: names.code } },
                                { name: "users", secret: { secretName: names.users, defaultMode: 0o440 } },
                                { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
                            ],
                        },
                    },
                },
            },
            { parent: this, dependsOn: [binding, marks, code, users] },
        );

        // Nothing may connect to it; it may reach DNS, the API server and the fleet's servers' port, nothing else.
        new k8s.networking.v1.NetworkPolicy(
            names.deployment,
            {
                metadata: meta(names.deployment),
                spec: {
                    podSelector: { matchLabels: suspenderSelector(args.fleet) },
                    policyTypes: ["Ingress", "Egress"],
                    egress: [
                        dnsEgressRule(),
                        // The API server's address is not known here (and a ClusterIP is rewritten before policies see it on some CNIs).
                        { ports: KUBE_API_PORTS.map((port) => ({ protocol: "TCP", port })) },
                        { to: [{ podSelector: { matchLabels: serverSelector(args.fleet) } }], ports: [{ protocol: "TCP", port: args.port }] },
                    ],
                },
            },
            child,
        );

        this.wakerRole = names.waker;
        this.wakeMarks = names.marks;
        this.serviceAccount = names.sa;
        this.registerOutputs({ wakerRole: this.wakerRole, wakeMarks: this.wakeMarks, serviceAccount: this.serviceAccount });
    }
}
