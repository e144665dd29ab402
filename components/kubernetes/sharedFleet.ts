import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION, DEFAULT_EXPOSURE, DEFAULT_REPLICAS, DEFAULT_STORAGE_SIZE, Exposure } from "../config";

export { DEFAULT_EXPOSURE, DEFAULT_STORAGE_SIZE };
import { assertArgs } from "../config/args";
import { buildCleanupSpec } from "../contract/cleanup";
import { cleanupSettingsFromArgs, credentialKind, egressPlanFromArgs, serverSecrets, ServerSettingsArgs, serverSpecFromArgs, SessionCleanupArgs } from "../contract/args";
import { serverEgressRules } from "./egress";
import { SessionCleanup } from "./cleanup";
import { generatedConnectionToken } from "../contract/tokens";
import { Redis } from "./redis";
import {
    CREDENTIALS_DIGEST_ANNOTATION,
    credentialsDigest,
    INTERNAL_LB_ANNOTATIONS,
    LABELS,
    PORT_NAME,
    renderServerPodSpec,
    renderSpread,
    selectorString,
    serverLabels,
    serverSelector,
} from "./render";
import { componentType, withFormerType } from "../contract/types";

type ServiceSpec = k8s.types.input.core.v1.ServiceSpec;
type NetworkPolicyIngressRule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;


/**
 * What a consumer passes to {@link SharedFleet}: plain values (any Pulumi language), each optional
 * field with its default. The component builds the CLI server spec and egress plan itself.
 */
export interface SharedFleetArgs extends ServerSettingsArgs {
    /** Namespace for every object of the fleet (must exist or be created by the caller). */
    readonly namespace: pulumi.Input<string>;
    /** Number of CLI server replicas. Default 3. */
    readonly replicas?: number;
    /** Image reference, ideally pinned by digest (CopilotImage output, or a prebuilt image). */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` label. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** Connection token every client must present (a secret). Default: generated (RandomPassword). */
    readonly connectionToken?: pulumi.Input<string>;
    /** `cluster` (ClusterIP, default), `internal` (private LoadBalancer) or `public` (LoadBalancer + source ranges). */
    readonly exposure?: Exposure;
    /** Source ranges for the load balancer (required with `public`). Default none. */
    readonly allowedCidrs?: string[];
    /** Extra annotations for the load-balancer Service (merged over the internal-LB ones). Default none. */
    readonly serviceAnnotations?: Record<string, string>;
    /** `sessionAffinity: ClientIP` on the Service. Default false (route by session id in the client instead). */
    readonly clientAffinity?: boolean;
    /** Deploy Redis for session locks. Default true. */
    readonly redis?: boolean;
    /** StorageClass of the ReadWriteMany claim; default the cluster's default class. */
    readonly storageClass?: pulumi.Input<string>;
    /** Size of the session-state claim. Default 10Gi. */
    readonly storageSize?: pulumi.Input<string>;
    /** Session cleanup (TTL, interval): a CronJob through the fleet Service. Default none. */
    readonly sessionCleanup?: SessionCleanupArgs;
    /** `protect` on the session-state claim: no update or destroy deletes or replaces it. Default true. */
    readonly protectSessionState?: boolean;
}

/** The load-balancer Service spec for an exposure; pure so tests and the per-user fleet share it. */
export function serviceSpecFor(
    exposure: Exposure,
    selector: Record<string, string>,
    port: number,
    opts: { allowedCidrs?: readonly string[]; clientAffinity?: boolean } = {},
): ServiceSpec {
    const base: ServiceSpec = {
        selector,
        ports: [{ name: PORT_NAME, port, targetPort: PORT_NAME, protocol: "TCP" }],
        sessionAffinity: opts.clientAffinity ? "ClientIP" : "None",
    };
    if (exposure === "cluster") return { ...base, type: "ClusterIP" };
    return {
        ...base,
        type: "LoadBalancer",
        // Local keeps the client's source IP, so loadBalancerSourceRanges and the NetworkPolicy's
        // ipBlocks see the real caller rather than a node address.
        externalTrafficPolicy: "Local",
        loadBalancerSourceRanges: opts.allowedCidrs && opts.allowedCidrs.length > 0 ? [...opts.allowedCidrs] : undefined,
    };
}

export function serviceAnnotationsFor(exposure: Exposure, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return { ...(exposure === "internal" ? INTERNAL_LB_ANNOTATIONS : {}), ...extra };
}

/**
 * Who may reach the servers' port: pods labelled as this fleet's clients (any namespace), and with a
 * load balancer the allowed source ranges. The connection token is still required on top.
 * `clientLabels` narrows the client pods further (per-user mode: the user label), ANDed with the
 * fleet's client label.
 */
export function serverIngressRules(
    fleet: string,
    port: number,
    exposure: Exposure,
    allowedCidrs: readonly string[],
    clientLabels: Readonly<Record<string, string>> = {},
): NetworkPolicyIngressRule[] {
    const from: NonNullable<NetworkPolicyIngressRule["from"]> = [
        { namespaceSelector: {}, podSelector: { matchLabels: { [LABELS.client]: fleet, ...clientLabels } } },
    ];
    if (exposure !== "cluster") {
        if (allowedCidrs.length > 0) {
            for (const cidr of allowedCidrs) from.push({ ipBlock: { cidr } });
        } else {
            // internal without explicit ranges: the private load balancer's callers are in the VNet/VPC.
            for (const cidr of ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]) from.push({ ipBlock: { cidr } });
        }
    }
    return [{ from, ports: [{ protocol: "TCP", port }] }];
}

/** PDB budget: at most one replica down at a time during voluntary disruptions (drains, upgrades). */
export const DISRUPTION_BUDGET = { maxUnavailable: 1 } as const;

/** Endpoint clients dial: the LB address when there is one, else the Service's cluster DNS name. */
export function endpointFor(service: k8s.core.v1.Service, exposure: Exposure, port: number): pulumi.Output<string> {
    if (exposure === "cluster") {
        return pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${port}`;
    }
    return service.status.apply((s) => {
        const ingress = s?.loadBalancer?.ingress?.[0];
        const host = ingress?.ip || ingress?.hostname;
        return host ? `${host}:${port}` : "";
    });
}

/**
 * Shared fleet on Kubernetes: N CLI servers on one ReadWriteMany claim (mounted only at the
 * session-state path), behind a Service, with Redis for session locks.
 */
export class SharedFleet extends pulumi.ComponentResource {
    public readonly endpoint: pulumi.Output<string>;
    public readonly connectionToken: pulumi.Output<string>;
    public readonly namespace: pulumi.Output<string>;
    public readonly selector: string;
    public readonly port: number;
    public readonly serviceName: pulumi.Output<string>;
    public readonly headlessServiceName: pulumi.Output<string>;
    public readonly sessionStatePath: string;
    public readonly redisUrl?: pulumi.Output<string>;

    constructor(name: string, args: SharedFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("SharedFleet", name, "kubernetes", "shared", args);
        super(componentType("SharedFleet"), name, {}, withFormerType("copilot-fleet:kubernetes:SharedFleet", opts));
        const replicas = args.replicas ?? DEFAULT_REPLICAS;
        const exposure = args.exposure ?? DEFAULT_EXPOSURE;
        const allowedCidrs = args.allowedCidrs ?? [];
        const cliVersion = args.cliVersion ?? DEFAULT_CLI_VERSION;
        const spec = serverSpecFromArgs(args, credentialKind(args.githubToken));
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);
        const selector = serverSelector(name);
        const labels = serverLabels(name, cliVersion);
        const meta = (suffix: string) => ({ name: suffix ? `${name}-${suffix}` : name, namespace: args.namespace, labels });

        const token =
            args.connectionToken !== undefined
                ? pulumi.secret(pulumi.output(args.connectionToken))
                : generatedConnectionToken(name, { parent: this });
        this.connectionToken = pulumi.secret(token);

        const secretData = serverSecrets(token, args.githubToken);
        const secret = new k8s.core.v1.Secret(`${name}-credentials`, { metadata: meta("credentials"), type: "Opaque", stringData: secretData }, { parent: this });

        const claim = new k8s.core.v1.PersistentVolumeClaim(
            `${name}-session-state`,
            {
                metadata: meta("session-state"),
                spec: {
                    accessModes: ["ReadWriteMany"],
                    storageClassName: args.storageClass,
                    resources: { requests: { storage: args.storageSize ?? DEFAULT_STORAGE_SIZE } },
                },
            },
            { parent: this, protect: args.protectSessionState ?? true },
        );

        const deployment = new k8s.apps.v1.Deployment(
            name,
            {
                metadata: meta(""),
                spec: {
                    replicas,
                    selector: { matchLabels: selector },
                    // Never drop below N ready replicas during a rollout (cliVersion upgrades).
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    minReadySeconds: 5,
                    template: {
                        // A changed token rolls the replicas (one at a time, as above).
                        metadata: { labels, annotations: { [CREDENTIALS_DIGEST_ANNOTATION]: credentialsDigest(secretData) } },
                        spec: renderServerPodSpec(spec, args.image, secret.metadata.name, claim.metadata.name, {
                            topologySpreadConstraints: renderSpread(selector),
                        }),
                    },
                },
            },
            { parent: this },
        );

        const service = new k8s.core.v1.Service(
            name,
            {
                metadata: { ...meta(""), annotations: serviceAnnotationsFor(exposure, args.serviceAnnotations) },
                spec: serviceSpecFor(exposure, selector, spec.port, { allowedCidrs, clientAffinity: args.clientAffinity }),
            },
            { parent: this, dependsOn: [deployment] },
        );

        // Headless: one DNS record per ready pod, for clients that route by session id to a replica.
        const headless = new k8s.core.v1.Service(
            `${name}-pods`,
            {
                metadata: meta("pods"),
                spec: { clusterIP: "None", selector, ports: [{ name: PORT_NAME, port: spec.port, targetPort: PORT_NAME, protocol: "TCP" }] },
            },
            { parent: this, dependsOn: [deployment] },
        );

        new k8s.policy.v1.PodDisruptionBudget(
            name,
            { metadata: meta(""), spec: { ...DISRUPTION_BUDGET, selector: { matchLabels: selector } } },
            { parent: this },
        );

        new k8s.networking.v1.NetworkPolicy(
            `${name}-server`,
            {
                metadata: meta("server"),
                spec: {
                    podSelector: { matchLabels: selector },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: serverIngressRules(name, spec.port, exposure, allowedCidrs),
                    egress: serverEgressRules(egressPlanFromArgs(args)),
                },
            },
            { parent: this },
        );

        if (args.redis ?? true) {
            // Only the fleet's clients take locks: the servers never talk to Redis, so they are not admitted.
            const redis = new Redis(`${name}-redis`, { namespace: args.namespace, fleet: name }, { parent: this });
            this.redisUrl = redis.url;
        }

        if (sessionCleanup) {
            new SessionCleanup(
                `${name}-session-cleanup`,
                {
                    namespace: args.namespace,
                    fleet: name,
                    image: args.image,
                    cliVersion,
                    // The Service's short name resolves inside the namespace; any replica can delete any session.
                    spec: buildCleanupSpec({ ...sessionCleanup, endpoint: `${name}:${spec.port}`, mode: "once" }),
                    secretName: secret.metadata.name,
                    claimName: claim.metadata.name,
                    serverPort: spec.port,
                },
                { parent: this, dependsOn: [service] },
            );
        }

        this.endpoint = endpointFor(service, exposure, spec.port);
        this.namespace = pulumi.output(args.namespace);
        this.selector = selectorString(selector);
        this.port = spec.port;
        this.serviceName = service.metadata.name;
        this.headlessServiceName = headless.metadata.name;
        this.sessionStatePath = spec.sessionStatePath;
        this.registerOutputs({
            endpoint: this.endpoint,
            connectionToken: this.connectionToken,
            namespace: this.namespace,
            selector: this.selector,
            port: this.port,
            serviceName: this.serviceName,
            headlessServiceName: this.headlessServiceName,
            sessionStatePath: this.sessionStatePath,
            redisUrl: this.redisUrl,
        });
    }
}
