/**
 * Compliant inputs, one per platform shape, built from the CLI contract (components/contract/server.ts) the way
 * our program renders it. Each test case copies one and changes a single field.
 */
import { buildServerSpec, CLI_PORT, COPILOT_HOME, ENV, HEALTHCHECK_PATH, SESSION_STATE_PATH } from "../../components/contract/server";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AciContainer, AciContainerGroupProps } from "../../policy/aci";
import { DockerContainerProps } from "../../policy/docker";
import { FakeResource } from "./util";
import { azureTags } from "../../components/contract/labels";

const spec = buildServerSpec({ credential: { kind: "githubToken" } });
const PINNED = "ghcr.io/example/copilot-cli@sha256:" + "a".repeat(64);
export const K8S = {
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    service: "kubernetes:core/v1:Service",
    pvc: "kubernetes:core/v1:PersistentVolumeClaim",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
} as const;
export const DOCKER_CONTAINER = "docker:index/container:Container";
export const ACI_GROUP = "azure-native:containerinstance:ContainerGroup";
export const STORAGE_ACCOUNT = "azure-native:storage:StorageAccount";

export const serverLabels = (fleet = "fleet", user?: string): Record<string, string> => ({
    "app.kubernetes.io/name": "copilot-cli",
    "app.kubernetes.io/component": "server",
    "app.kubernetes.io/instance": fleet,
    "app.kubernetes.io/part-of": "copilot-fleet",
    ...(user ? { "copilot-fleet.github.com/user": user } : {}),
});

const probe = { exec: { command: [HEALTHCHECK_PATH] }, periodSeconds: 5 };

export function serverDeployment(opts: { name?: string; fleet?: string; user?: string; replicas?: number; claim?: string; secret?: string } = {}): FakeResource {
    const name = opts.name ?? "fleet";
    const secret = opts.secret ?? `${name}-credentials`;
    const labels = serverLabels(opts.fleet ?? name, opts.user);
    return {
        type: K8S.deployment,
        name,
        props: {
            metadata: { name, namespace: "copilot", labels },
            spec: {
                replicas: opts.replicas ?? 3,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        securityContext: { runAsNonRoot: true, runAsUser: spec.uid, fsGroup: spec.gid },
                        containers: [
                            {
                                name: "copilot",
                                image: PINNED,
                                args: [...spec.args],
                                ports: [{ name: "jsonrpc", containerPort: CLI_PORT }],
                                env: [
                                    ...spec.env.map((e) => ({ name: e.name, value: e.value })),
                                    ...spec.secretEnv.map((e) => ({ name: e.name, valueFrom: { secretKeyRef: { name: secret, key: e.secretKey } } })),
                                ],
                                resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
                                readinessProbe: probe,
                                livenessProbe: probe,
                                securityContext: { allowPrivilegeEscalation: false, privileged: false, runAsNonRoot: true },
                                volumeMounts: [
                                    { name: "copilot-home", mountPath: COPILOT_HOME },
                                    { name: "session-state", mountPath: SESSION_STATE_PATH },
                                ],
                            },
                        ],
                        volumes: [
                            { name: "session-state", persistentVolumeClaim: { claimName: opts.claim ?? `${name}-session-state` } },
                            { name: "copilot-home", emptyDir: {} },
                        ],
                    },
                },
            },
        },
    };
}

export function sessionClaim(name = "fleet-session-state", accessModes = ["ReadWriteMany"]): FakeResource {
    return {
        type: K8S.pvc,
        name,
        props: { metadata: { name, namespace: "copilot" }, spec: { accessModes, resources: { requests: { storage: "10Gi" } } } },
    };
}

export function serverNetworkPolicy(fleet = "fleet"): FakeResource {
    return {
        type: K8S.networkPolicy,
        name: `${fleet}-server`,
        props: {
            metadata: { name: `${fleet}-server`, namespace: "copilot" },
            spec: {
                podSelector: { matchLabels: { "app.kubernetes.io/name": "copilot-cli", "app.kubernetes.io/instance": fleet } },
                policyTypes: ["Ingress"],
                ingress: [{ from: [{ podSelector: { matchLabels: { "copilot-fleet.github.com/client": fleet } } }], ports: [{ port: CLI_PORT }] }],
            },
        },
    };
}

export function redisDeployment(): FakeResource {
    const labels = { "app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "session-lock", "app.kubernetes.io/part-of": "copilot-fleet" };
    return {
        type: K8S.deployment,
        name: "fleet-redis",
        props: {
            metadata: { name: "fleet-redis", namespace: "copilot" },
            spec: {
                replicas: 1,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        securityContext: { runAsNonRoot: true, runAsUser: 999 },
                        containers: [
                            {
                                name: "redis",
                                image: "redis:7.4.2-bookworm",
                                args: ["redis-server", "/etc/redis/redis.conf"],
                                readinessProbe: { exec: { command: ["redis-cli", "ping"] } },
                                livenessProbe: { exec: { command: ["redis-cli", "ping"] } },
                                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                                securityContext: { allowPrivilegeEscalation: false },
                                volumeMounts: [{ name: "config", mountPath: "/etc/redis", readOnly: true }],
                            },
                        ],
                        volumes: [{ name: "config", secret: { secretName: "fleet-redis-config" } }],
                    },
                },
            },
        },
    };
}

export function clusterService(): FakeResource {
    return {
        type: K8S.service,
        name: "fleet",
        props: { metadata: { name: "fleet", namespace: "copilot" }, spec: { type: "ClusterIP", ports: [{ port: CLI_PORT }] } },
    };
}

export function dockerServer(opts: { name?: string; user?: string; volume?: string; token?: string } = {}): FakeResource {
    const name = opts.name ?? "copilot-0";
    return {
        type: DOCKER_CONTAINER,
        name,
        props: {
            name,
            image: PINNED,
            command: [...spec.args],
            envs: [`${ENV.connectionToken}=${opts.token ?? "t".repeat(48)}`, `${ENV.home}=${COPILOT_HOME}`],
            labels: Object.entries(serverLabels("dev", opts.user)).map(([label, value]) => ({ label, value })),
            user: "10001:10001",
            securityOpts: ["no-new-privileges:true"],
            memory: 2048,
            memoryReservation: 512,
            cpus: "2",
            healthcheck: { tests: ["CMD", HEALTHCHECK_PATH], interval: "5s" },
            ports: [{ internal: CLI_PORT, external: 4321, ip: "127.0.0.1" }],
            volumes: [{ volumeName: opts.volume ?? "dev-session-state", containerPath: SESSION_STATE_PATH }],
        },
        opts: { additionalSecretOutputs: ["envs"] },
    };
}

export function aciServer(opts: { name?: string; user?: string; share?: string; token?: string } = {}): FakeResource {
    const name = opts.name ?? "fleet-0";
    return {
        type: ACI_GROUP,
        name,
        props: {
            containerGroupName: name,
            osType: "Linux",
            // As the program tags it: label keys with "." for "/" (Azure refuses "/" in tag names).
            tags: azureTags(serverLabels("fleet", opts.user)),
            ipAddress: { type: "Private", ports: [{ port: CLI_PORT, protocol: "TCP" }] },
            subnetIds: [{ id: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci" }],
            containers: [
                {
                    name: "copilot",
                    image: PINNED,
                    command: [...spec.args],
                    environmentVariables: [
                        { name: ENV.home, value: COPILOT_HOME },
                        { name: ENV.connectionToken, secureValue: opts.token ?? "s".repeat(48) },
                    ],
                    ports: [{ port: CLI_PORT }],
                    resources: { requests: { cpu: 1, memoryInGB: 1 }, limits: { cpu: 2, memoryInGB: 2 } },
                    readinessProbe: { exec: { command: [HEALTHCHECK_PATH] } },
                    livenessProbe: { exec: { command: [HEALTHCHECK_PATH] } },
                    volumeMounts: [{ name: "session-state", mountPath: SESSION_STATE_PATH }],
                },
            ],
            volumes: [{ name: "session-state", azureFile: { shareName: opts.share ?? "session-state", storageAccountName: "copilotfleet", storageAccountKey: "k" } }],
        },
    };
}

export function storageAccount(): FakeResource {
    return {
        type: STORAGE_ACCOUNT,
        name: "sessions",
        props: { accountName: "copilotfleet", kind: "StorageV2", enableHttpsTrafficOnly: true, minimumTlsVersion: "TLS1_2", allowBlobPublicAccess: false },
    };
}

/** The compliant shared Kubernetes fleet as a whole stack. */
export function kubernetesStack(): FakeResource[] {
    return [serverDeployment(), sessionClaim(), serverNetworkPolicy(), clusterService(), redisDeployment()];
}

type DeploymentProps = pulumi.Unwrap<k8s.apps.v1.DeploymentArgs>;
type PodSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodSpec>;
type ContainerProps = pulumi.Unwrap<k8s.types.input.core.v1.Container>;

/** Typed access to a fixture's fields, for mutating one field per case. */
export const deploymentOf = (r: FakeResource): DeploymentProps => r.props as DeploymentProps;
export const podOf = (r: FakeResource): PodSpec => deploymentOf(r).spec!.template.spec!;
export const containerOf = (r: FakeResource): ContainerProps => podOf(r).containers[0];
export const dockerOf = (r: FakeResource): DockerContainerProps => r.props as DockerContainerProps;
export const aciOf = (r: FakeResource): AciContainerGroupProps => r.props as AciContainerGroupProps;
export const aciContainerOf = (r: FakeResource): AciContainer => aciOf(r).containers![0];
