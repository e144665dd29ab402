/**
 * Per-user fleet on Kubernetes: one Copilot CLI server per user, each with its own claim, Secret,
 * generated connection token, Service and NetworkPolicy. The pod is the shared fleet's pod
 * (render.ts `renderServerPodSpec`), so probes, resources, security context and shutdown are the same.
 *
 * Identity: every name derives from the user id alone (never list position), so adding, removing or
 * suspending one user leaves every other user's resources byte-for-byte the same.
 */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_CLI_VERSION, Exposure } from "../config";
import { assertArgs } from "../config/args";
import { UserOutput } from "../contract/outputs";
import { ServerSpec } from "../contract/server";
import { buildCleanupSpec, CleanupSpec } from "../contract/cleanup";
import { cleanupSettingsFromArgs, credentialKind, egressPlanFromArgs, ServerSettingsArgs, serverSpecsFromArgs, SessionCleanupArgs, UserArgs, userCredentialKind, userSecretData } from "../contract/args";

export type { UserArgs };
export { userCredentialKind, userSecretData };
import { renderCleanupContainer, withCleanupSidecar } from "./cleanup";
import { EgressPlan } from "../contract/egress";
import { serverEgressRules } from "./egress";
import { generatedConnectionToken } from "../contract/tokens";
import { componentType, withFormerType } from "../contract/types";
import { CREDENTIALS_DIGEST_ANNOTATION, credentialsDigest, LABELS, renderServerPodSpec, selectorString, serverLabels, serverSelector } from "./render";
import { DEFAULT_EXPOSURE, DEFAULT_STORAGE_SIZE, endpointFor, serverIngressRules, serviceAnnotationsFor, serviceSpecFor } from "./sharedFleet";
import { SUSPENDED_MARKER, SuspenderUserEntry } from "../contract/suspend";
import { KubernetesIdleSuspender, suspenderSelector } from "./suspender";

/** Kubernetes object names we derive are kept to one DNS label (63), the strictest rule among the kinds we create (Service). */
export const MAX_OBJECT_NAME_LENGTH = 63;
/** Infix between fleet and user id; fleet-wide objects never start with `<fleet>-u-`, so they cannot collide with a user's. */
export const USER_INFIX = "u";
/** Name suffix per kind; one fixed suffix per kind keeps names injective in the user id. */
export const USER_OBJECT_SUFFIX = {
    deployment: "",
    service: "",
    networkPolicy: "",
    secret: "credentials",
    claim: "state",
} as const;
export type UserObjectKind = keyof typeof USER_OBJECT_SUFFIX;
/** Access mode of each user's claim: one server, one writer, so any block or file class works. */
export const USER_CLAIM_ACCESS_MODE = "ReadWriteOnce";
const HASH_LENGTH = 8;
/** A Service name must be a DNS-1035 label: starting with a letter. The fleet name leads every name, so it must. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function shortHash(value: string): string {
    return createHash("sha256").update(value).digest("hex").slice(0, HASH_LENGTH);
}

/**
 * The Kubernetes name of one of a user's objects: `<fleet>-u-<id>[-<suffix>]`. When that would pass
 * 63 characters the id is cut and a hash of the whole id appended (`<fleet>-u-<id prefix>-<hash8>-<suffix>`),
 * so the name stays a DNS-1035 label, stays stable, and two long ids that share a prefix still differ.
 * With the default fleet name ("copilot") and ids of at most 40 characters no name is ever cut.
 */
export function userObjectName(fleet: string, id: string, kind: UserObjectKind): string {
    const suffix = USER_OBJECT_SUFFIX[kind];
    const head = `${fleet}-${USER_INFIX}-`;
    const tail = suffix ? `-${suffix}` : "";
    const budget = MAX_OBJECT_NAME_LENGTH - head.length - tail.length;
    if (id.length <= budget) return `${head}${id}${tail}`;
    const keep = budget - HASH_LENGTH - 1;
    if (keep < 1) throw new Error(`fleet name ${JSON.stringify(fleet)} is too long to name per-user objects within ${MAX_OBJECT_NAME_LENGTH} characters`);
    const prefix = id.slice(0, keep).replace(/-+$/, "");
    return `${head}${prefix ? `${prefix}-` : ""}${shortHash(id)}${tail}`;
}

/** Selector of one user's server pod: the fleet's server selector plus the user label. */
export function userSelector(fleet: string, id: string): Record<string, string> {
    return { ...serverSelector(fleet), [LABELS.user]: id };
}

/** Problems with a fleet name and user list that would make names invalid or shared; empty when fine. O(users). */
export function perUserNameProblems(fleet: string, ids: readonly string[]): { propertyPath: string; reason: string }[] {
    const problems: { propertyPath: string; reason: string }[] = [];
    if (!DNS_1035_LABEL.test(fleet) || fleet.length > 30) {
        problems.push({
            propertyPath: "name",
            reason: `${JSON.stringify(fleet)} is not accepted; a per-user fleet name must start with a letter, use a-z, 0-9 and "-", and have at most 30 characters (it prefixes every Service name)`,
        });
        return problems;
    }
    const seen = new Map<string, string>();
    ids.forEach((id, i) => {
        if (!DNS_1123_LABEL.test(id)) {
            problems.push({ propertyPath: `users[${i}].id`, reason: `${JSON.stringify(id)} is not a lowercase DNS label` });
            return;
        }
        const name = userObjectName(fleet, id, "deployment");
        const other = seen.get(name);
        if (other !== undefined) {
            problems.push({ propertyPath: `users[${i}].id`, reason: `${JSON.stringify(id)} ${other === id ? "appears more than once" : `maps to the same name as ${JSON.stringify(other)}`}; each user id must be unique` });
            return;
        }
        seen.set(name, id);
    });
    return problems;
}

/** Settings every user's server shares (PerUserFleet passes them through to each UserServer). */
export interface UserServerCommonArgs {
    /** Namespace for every object (must exist or be created by the caller). */
    readonly namespace: pulumi.Input<string>;
    /** Image reference, ideally pinned by digest. */
    readonly image: pulumi.Input<string>;
    /** CLI version in the image, for the `app.kubernetes.io/version` label. Default DEFAULT_CLI_VERSION. */
    readonly cliVersion?: string;
    /** `cluster` (ClusterIP, default), `internal` or `public` (a LoadBalancer per user). */
    readonly exposure?: Exposure;
    /** Load-balancer source ranges (required with `public`). Default none. */
    readonly allowedCidrs?: string[];
    /** Extra annotations for load-balancer Services. Default none. */
    readonly serviceAnnotations?: Record<string, string>;
    /** StorageClass of each user's ReadWriteOnce claim; default the cluster's default class. */
    readonly storageClass?: pulumi.Input<string>;
    /** Size of each user's session-state claim. Default 10Gi. */
    readonly storageSize?: pulumi.Input<string>;
    /** `protect` on each user's claim: removing the user or destroying the fleet stops there instead of deleting sessions. Default true. */
    readonly protectSessionState?: boolean;
}

/** Internal: what PerUserFleet passes to each user's server. */
export interface UserServerArgs extends UserServerCommonArgs {
    /** The fleet's service GitHub token, used when the user has none. */
    readonly githubToken?: pulumi.Input<string>;
    /** Where the server may connect. */
    readonly egress: EgressPlan;
    /** The fleet this server belongs to (labels, names, the client label value). */
    readonly fleet: string;
    /** The user: id, own GitHub token (optional), suspended. */
    readonly user: UserArgs;
    /** The CLI server spec for this user's credential kind (components/contract/server.ts `buildServerSpec`). */
    readonly spec: ServerSpec;
    /** Loop-mode cleanup spec (endpoint 127.0.0.1) run as a sidecar in the server pod. Default none. */
    readonly cleanup?: CleanupSpec;
    /** The fleet runs the idle suspender: replicas are the suspender's and wakes' to set (see userDeploymentOptions). Default false. */
    readonly idleSuspend?: boolean;
}

/** Pulumi's own annotation: server-side apply takes fields from other field managers instead of failing on the conflict. */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/**
 * How a user's Deployment is managed when the fleet suspends idle servers. Its metadata says whether
 * the user is suspended in config (wakes read it and refuse), and `spec.replicas` belongs to the
 * suspender and the wakes (they scale through the `scale` subresource): Pulumi sets it on create
 * (1) and then ignores it, so `pulumi up` after an automatic suspend leaves the server as the
 * suspender left it. A user with `suspended: true` is the exception: Pulumi sets 0 and does not
 * ignore it, and `patchForce` takes the field back from the suspender's field manager, so config
 * still forces a server off. Setting such a user back to `suspended: false` leaves them at 0 until
 * their first wake. Without idle suspend nothing changes: Pulumi owns replicas, as before.
 */
export function userDeploymentOptions(suspended: boolean, idleSuspend: boolean): { annotations?: Record<string, string>; ignoreChanges?: string[] } {
    if (!idleSuspend) return {};
    return {
        annotations: { [SUSPENDED_MARKER]: String(suspended), [PATCH_FORCE_ANNOTATION]: "true" },
        ...(suspended ? {} : { ignoreChanges: ["spec.replicas"] }),
    };
}

/** One user's server: Deployment (1 replica, 0 when suspended), claim, Secret, token, Service, NetworkPolicy. */
export class UserServer extends pulumi.ComponentResource {
    public readonly endpoint: pulumi.Output<string>;
    public readonly connectionToken: pulumi.Output<string>;
    /** `k=v,...` selector of this user's server pod (port-forward, `kubectl -l`). */
    public readonly selector: string;
    public readonly suspended: boolean;
    public readonly serviceName: string;
    public readonly claimName: string;
    public readonly secretName: string;
    /** The Deployment's name (what the suspender and wakes scale). */
    public readonly deploymentName: string;

    constructor(name: string, args: UserServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("UserServer"), name, {}, withFormerType("copilot-fleet:kubernetes:UserServer", opts));
        const { fleet, user, spec } = args;
        const exposure = args.exposure ?? DEFAULT_EXPOSURE;
        const allowedCidrs = args.allowedCidrs ?? [];
        const selector = userSelector(fleet, user.id);
        const labels = { ...serverLabels(fleet, args.cliVersion ?? DEFAULT_CLI_VERSION), [LABELS.user]: user.id };
        const names = {
            deployment: userObjectName(fleet, user.id, "deployment"),
            service: userObjectName(fleet, user.id, "service"),
            networkPolicy: userObjectName(fleet, user.id, "networkPolicy"),
            secret: userObjectName(fleet, user.id, "secret"),
            claim: userObjectName(fleet, user.id, "claim"),
        };
        const meta = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });
        const child = { parent: this };

        // Per user, never shared: one user's token opens no other user's server.
        const token = generatedConnectionToken(name, child);
        this.connectionToken = pulumi.secret(token);

        const secretData = userSecretData(token, user, args.githubToken);
        const secret = new k8s.core.v1.Secret(names.secret, { metadata: meta(names.secret), type: "Opaque", stringData: secretData }, child);

        // Suspending scales the Deployment to zero; the claim is untouched, so resuming finds every session.
        const claim = new k8s.core.v1.PersistentVolumeClaim(
            names.claim,
            {
                metadata: meta(names.claim),
                spec: {
                    accessModes: [USER_CLAIM_ACCESS_MODE],
                    storageClassName: args.storageClass,
                    resources: { requests: { storage: args.storageSize ?? DEFAULT_STORAGE_SIZE } },
                },
            },
            { ...child, protect: args.protectSessionState ?? true },
        );

        const managed = userDeploymentOptions(user.suspended === true, args.idleSuspend === true);
        // Names (not resource outputs) go into the pod spec: they are known strings, which keeps each
        // user's graph flat (no Output chain per user); dependsOn still orders Secret and claim first.
        const deployment = new k8s.apps.v1.Deployment(
            names.deployment,
            {
                metadata: managed.annotations ? { ...meta(names.deployment), annotations: managed.annotations } : meta(names.deployment),
                spec: {
                    replicas: user.suspended === true ? 0 : 1,
                    selector: { matchLabels: selector },
                    // A ReadWriteOnce claim and one writer: the old pod must be gone before the new one mounts.
                    strategy: { type: "Recreate" },
                    template: {
                        // A changed token (this user's, or the service token they fall back to) restarts this user's server.
                        metadata: { labels, annotations: { [CREDENTIALS_DIGEST_ANNOTATION]: credentialsDigest(secretData) } },
                        spec: args.cleanup
                            ? withCleanupSidecar(renderServerPodSpec(spec, args.image, names.secret, names.claim), renderCleanupContainer(args.cleanup, args.image, names.secret))
                            : renderServerPodSpec(spec, args.image, names.secret, names.claim),
                    },
                },
            },
            { parent: this, dependsOn: [secret, claim], ...(managed.ignoreChanges ? { ignoreChanges: managed.ignoreChanges } : {}) },
        );

        const service = new k8s.core.v1.Service(
            names.service,
            {
                metadata: { ...meta(names.service), annotations: serviceAnnotationsFor(exposure, args.serviceAnnotations) },
                spec: serviceSpecFor(exposure, selector, spec.port, { allowedCidrs }),
            },
            { parent: this, dependsOn: [deployment] },
        );

        new k8s.networking.v1.NetworkPolicy(
            names.networkPolicy,
            {
                metadata: meta(names.networkPolicy),
                spec: {
                    podSelector: { matchLabels: selector },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [
                        ...serverIngressRules(fleet, spec.port, exposure, allowedCidrs, { [LABELS.user]: user.id }),
                        // The fleet's idle suspender asks each server about its sessions.
                        ...(args.idleSuspend ? [{ from: [{ podSelector: { matchLabels: suspenderSelector(fleet) } }], ports: [{ protocol: "TCP", port: spec.port }] }] : []),
                    ],
                    // The cleanup sidecar dials 127.0.0.1, which no policy filters.
                    egress: serverEgressRules(args.egress),
                },
            },
            child,
        );

        this.endpoint = endpointFor(service, exposure, spec.port);
        this.selector = selectorString(selector);
        this.suspended = user.suspended === true;
        this.serviceName = names.service;
        this.claimName = names.claim;
        this.secretName = names.secret;
        this.deploymentName = names.deployment;
        this.registerOutputs({
            deploymentName: this.deploymentName,
            endpoint: this.endpoint,
            connectionToken: this.connectionToken,
            selector: this.selector,
            suspended: this.suspended,
            serviceName: this.serviceName,
            claimName: this.claimName,
            secretName: this.secretName,
        });
    }
}

/**
 * What a consumer passes to {@link PerUserFleet}: plain values (any Pulumi language), each optional
 * field with its default. `githubToken` is the fleet's service token, used by users without their own.
 */
export interface PerUserFleetArgs extends UserServerCommonArgs, ServerSettingsArgs {
    /** The users; each gets its own server. Ids are lowercase DNS labels, unique. */
    readonly users: UserArgs[];
    /** Session cleanup (TTL, interval): a loop-mode sidecar in every user's pod. Default none. */
    readonly sessionCleanup?: SessionCleanupArgs;
    /** Stop a user's server after this many minutes without session activity (the idle suspender, 5–10080). Default off. */
    readonly idleSuspendMinutes?: number;
    /** The idle suspender's Node.js image. Default DEFAULT_SUSPENDER_IMAGE (components/contract/suspend.ts). */
    readonly suspenderImage?: string;
}

/**
 * Runs `build` with V8 stack capture off, unless Pulumi's promise-leak debugging is on.
 *
 * Why: the Pulumi SDK formats `new Error().stack` for every internal promise it creates (~240 per
 * user here, kept only for its PULUMI_DEBUG_PROMISE_LEAKS report), and under ts-node, as `pulumi up`
 * runs a TypeScript program, every frame of every such stack is source-mapped. Measured with
 * scripts/bench-users.ts: ~45% of evaluation time for 1,000 users. Resource source positions are
 * unaffected (Pulumi raises the limit itself for those). The limit is restored before returning or
 * throwing, and nothing else runs in between: the work is synchronous.
 */
export function withoutPromiseStacks<T>(build: () => T): T {
    if (process.env.PULUMI_DEBUG_PROMISE_LEAKS) return build();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
        return build();
    } finally {
        Error.stackTraceLimit = limit;
    }
}

/** Name of the fleet-wide default-deny policy (never starts with `<fleet>-u-`). */
export function defaultDenyName(fleet: string): string {
    return `${fleet}-default-deny`;
}

/** What PerUserFleet outputs about idle suspend (stack output `idleSuspend`). */
export interface IdleSuspendOutput {
    /** The window, `idleSuspendMinutes`. */
    readonly minutes: number;
    /** Bind your backend's ServiceAccount to this Role so its `ensureRunning` may wake users. */
    readonly wakerRole: string;
    /** The ConfigMap wakes mark users in (`kubernetesControl({ wakeMarks })`). */
    readonly wakeMarks: string;
}

const SERVERS = new WeakMap<PerUserFleet, ReadonlyMap<string, UserServer>>();

/**
 * Per-user fleet: a {@link UserServer} per user and a default-deny ingress policy over all of the
 * fleet's server pods, so a server whose own policy is missing (or not yet created) admits no one.
 */
export class PerUserFleet extends pulumi.ComponentResource {
    /** user id → { endpoint, connectionToken, selector, suspended }; secret as a whole (it carries tokens). */
    public readonly users: pulumi.Output<Record<string, UserOutput>>;
    public readonly namespace: pulumi.Output<string>;
    /** Selector of every server pod of the fleet (all users). */
    public readonly selector: string;
    public readonly port: number;
    public readonly sessionStatePath: string;
    /** With idleSuspendMinutes: the window, the Role to bind backends' ServiceAccounts to for wakes, and the wake-marks ConfigMap. */
    public readonly idleSuspend?: pulumi.Output<IdleSuspendOutput>;

    /** user id → that user's server component. A getter: schema inference takes every field for an output, and a map of components is not one. */
    get servers(): ReadonlyMap<string, UserServer> {
        return SERVERS.get(this) ?? new Map();
    }

    constructor(name: string, args: PerUserFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        const problems = perUserNameProblems(
            name,
            args.users.map((u) => u.id),
        );
        if (problems.length > 0) {
            throw new pulumi.InputPropertiesError({ message: `PerUserFleet ${name}: ${problems.map((p) => `${p.propertyPath}: ${p.reason}`).join("; ")}`, errors: problems });
        }
        assertArgs("PerUserFleet", name, "kubernetes", "per-user", args);
        super(componentType("PerUserFleet"), name, {}, withFormerType("copilot-fleet:kubernetes:PerUserFleet", opts));
        const specFor = serverSpecsFromArgs(args);
        const fleetSpec = specFor(credentialKind(args.githubToken));
        const cliVersion = args.cliVersion ?? DEFAULT_CLI_VERSION;
        const egress = egressPlanFromArgs(args);
        const sessionCleanup = cleanupSettingsFromArgs(args.sessionCleanup);

        new k8s.networking.v1.NetworkPolicy(
            defaultDenyName(name),
            {
                metadata: { name: defaultDenyName(name), namespace: args.namespace, labels: serverLabels(name, cliVersion) },
                // Both listed with no rules: selected pods admit and open nothing beyond what a user's own policy adds.
                spec: { podSelector: { matchLabels: serverSelector(name) }, policyTypes: ["Ingress", "Egress"] },
            },
            { parent: this },
        );

        // One spec for every user: the sidecar dials its own pod's server.
        const cleanup = sessionCleanup ? buildCleanupSpec({ ...sessionCleanup, endpoint: `127.0.0.1:${fleetSpec.port}`, mode: "loop" }) : undefined;
        const servers = new Map<string, UserServer>();
        withoutPromiseStacks(() => {
            for (const user of args.users) servers.set(
                user.id,
                new UserServer(
                    `${name}-${USER_INFIX}-${user.id}`,
                    {
                        fleet: name,
                        user,
                        namespace: args.namespace,
                        image: args.image,
                        cliVersion,
                        spec: specFor(userCredentialKind(user, args.githubToken)),
                        cleanup,
                        githubToken: args.githubToken,
                        exposure: args.exposure,
                        allowedCidrs: args.allowedCidrs,
                        serviceAnnotations: args.serviceAnnotations,
                        storageClass: args.storageClass,
                        storageSize: args.storageSize,
                        protectSessionState: args.protectSessionState,
                        egress,
                        idleSuspend: args.idleSuspendMinutes !== undefined,
                    },
                    { parent: this },
                ),
            );
        });
        SERVERS.set(this, servers);

        // One combinator over all users (not one Output per user folded into the next).
        const ids = [...servers.keys()];
        const list = [...servers.values()];
        this.users = pulumi.secret(
            pulumi.all([pulumi.all(list.map((s) => s.endpoint)), pulumi.all(list.map((s) => s.connectionToken))]).apply(([endpoints, tokens]) => {
                const out: Record<string, UserOutput> = {};
                ids.forEach((id, i) => {
                    const s = list[i];
                    out[id] = { endpoint: endpoints[i], connectionToken: tokens[i], selector: s.selector, suspended: s.suspended, server: s.deploymentName };
                });
                return out;
            }),
        );
        if (args.idleSuspendMinutes !== undefined) {
            const minutes = args.idleSuspendMinutes;
            if (!Number.isInteger(minutes) || minutes < 5 || minutes > 10080) {
                throw new pulumi.InputPropertiesError({ message: `PerUserFleet ${name}: idleSuspendMinutes ${minutes} is not accepted; use an integer from 5 to 10080`, errors: [{ propertyPath: "idleSuspendMinutes", reason: "use an integer from 5 to 10080" }] });
            }
            // In-cluster addresses whatever the exposure: the suspender runs beside the servers.
            const entries = pulumi.all([pulumi.output(args.namespace), pulumi.all(list.map((s) => s.connectionToken))]).apply(([ns, tokens]) => {
                const out: Record<string, SuspenderUserEntry> = {};
                ids.forEach((id, i) => {
                    out[id] = { endpoint: `${list[i].serviceName}.${ns}.svc.cluster.local:${fleetSpec.port}`, connectionToken: tokens[i], server: list[i].deploymentName };
                });
                return out;
            });
            const suspender = new KubernetesIdleSuspender(
                `${name}-idle-suspender`,
                { namespace: args.namespace, fleet: name, idleMinutes: minutes, users: pulumi.secret(entries), deployments: list.map((s) => s.deploymentName), image: args.suspenderImage, port: fleetSpec.port },
                { parent: this },
            );
            this.idleSuspend = pulumi.output({ minutes, wakerRole: suspender.wakerRole, wakeMarks: suspender.wakeMarks });
        }
        this.namespace = pulumi.output(args.namespace);
        this.selector = selectorString(serverSelector(name));
        this.port = fleetSpec.port;
        this.sessionStatePath = fleetSpec.sessionStatePath;
        this.registerOutputs({
            users: this.users,
            namespace: this.namespace,
            selector: this.selector,
            port: this.port,
            sessionStatePath: this.sessionStatePath,
            idleSuspend: this.idleSuspend,
        });
    }
}
