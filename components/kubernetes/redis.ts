import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { REDIS_IMAGE, REDIS_PASSWORD_LENGTH, REDIS_PORT, REDIS_UID, redisConf } from "../contract/redis";
import { CREDENTIALS_DIGEST_ANNOTATION, credentialsDigest, LABELS, restrictedSecurityContext } from "./render";
import { componentType, withFormerType } from "../contract/types";

export { REDIS_IMAGE, REDIS_PORT, REDIS_UID, redisConf };

export interface RedisArgs {
    /** Namespace for Redis and its Service. */
    readonly namespace: pulumi.Input<string>;
    /** The fleet this Redis serves: its server pods and its labelled clients may connect. */
    readonly fleet: string;
    /** Pod labels (besides the fleet's client label) allowed to reach Redis. Default none: only the fleet's clients take locks. */
    readonly allowedPodLabels?: Record<string, string>;
    /** Image; default {@link REDIS_IMAGE}. */
    readonly image?: pulumi.Input<string>;
}

export function redisSelector(fleet: string): Record<string, string> {
    return { [LABELS.name]: "redis", [LABELS.instance]: fleet, [LABELS.component]: "session-lock" };
}

/** Redis with a generated password, for application-level session locks (two servers writing one session concurrently fork its events.jsonl). */
export class Redis extends pulumi.ComponentResource {
    public readonly password: pulumi.Output<string>;
    public readonly url: pulumi.Output<string>;
    public readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("Redis"), name, {}, withFormerType("copilot-fleet:kubernetes:Redis", opts));
        const selector = redisSelector(args.fleet);
        const labels = { ...selector, [LABELS.partOf]: "copilot-fleet", [LABELS.managedBy]: "pulumi" };

        const password = new random.RandomPassword(`${name}-password`, { length: REDIS_PASSWORD_LENGTH, special: false }, { parent: this });
        this.password = password.result;

        const secretData = { "redis.conf": pulumi.secret(password.result.apply(redisConf)), password: password.result };
        const secret = new k8s.core.v1.Secret(
            `${name}-config`,
            {
                metadata: { name: `${name}-config`, namespace: args.namespace, labels },
                type: "Opaque",
                stringData: secretData,
            },
            { parent: this },
        );

        const deployment = new k8s.apps.v1.Deployment(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: {
                    replicas: 1,
                    // One writer at a time: never two Redis pods with different lock state.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: selector },
                    template: {
                        // Redis reads its password once at start: a new one (the password replaced) restarts it.
                        metadata: { labels, annotations: { [CREDENTIALS_DIGEST_ANNOTATION]: credentialsDigest(secretData) } },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: {
                                runAsNonRoot: true,
                                runAsUser: REDIS_UID,
                                runAsGroup: REDIS_UID,
                                fsGroup: REDIS_UID,
                                seccompProfile: { type: "RuntimeDefault" },
                            },
                            containers: [
                                {
                                    name: "redis",
                                    image: args.image ?? REDIS_IMAGE,
                                    args: ["redis-server", "/etc/redis/redis.conf"],
                                    ports: [{ name: "redis", containerPort: REDIS_PORT, protocol: "TCP" }],
                                    env: [{ name: "REDISCLI_AUTH", valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "password" } } }],
                                    readinessProbe: {
                                        exec: { command: ["sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"] },
                                        periodSeconds: 5,
                                        timeoutSeconds: 2,
                                    },
                                    livenessProbe: {
                                        exec: { command: ["sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"] },
                                        periodSeconds: 10,
                                        timeoutSeconds: 2,
                                        failureThreshold: 3,
                                    },
                                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                                    securityContext: restrictedSecurityContext(REDIS_UID, REDIS_UID),
                                    volumeMounts: [
                                        { name: "config", mountPath: "/etc/redis", readOnly: true },
                                        { name: "data", mountPath: "/data" },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "config", secret: { secretName: secret.metadata.name, items: [{ key: "redis.conf", path: "redis.conf" }] } },
                                { name: "data", emptyDir: { sizeLimit: "256Mi" } },
                            ],
                        },
                    },
                },
            },
            { parent: this },
        );

        const service = new k8s.core.v1.Service(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: { type: "ClusterIP", selector, ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" }] },
            },
            { parent: this, dependsOn: [deployment] },
        );

        new k8s.networking.v1.NetworkPolicy(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: {
                    podSelector: { matchLabels: selector },
                    // Egress listed with no rules: Redis opens no connection at all (no replication, no
                    // cluster bus, no name lookups), so a compromised Redis reaches nothing.
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [
                        {
                            from: [
                                ...(args.allowedPodLabels ? [{ podSelector: { matchLabels: args.allowedPodLabels } }] : []),
                                { namespaceSelector: {}, podSelector: { matchLabels: { [LABELS.client]: args.fleet } } },
                            ],
                            ports: [{ protocol: "TCP", port: REDIS_PORT }],
                        },
                    ],
                },
            },
            { parent: this },
        );

        this.serviceName = service.metadata.name;
        this.url = pulumi.secret(
            pulumi.interpolate`redis://:${password.result}@${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${REDIS_PORT}`,
        );
        this.registerOutputs({ password: this.password, url: this.url, serviceName: this.serviceName });
    }
}
