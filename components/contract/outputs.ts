/**
 * The stack-outputs contract: what `pulumi stack output --json --show-secrets` prints for every
 * platform, what `npm run fleet:local` writes to its outputs file, and what the smoke suite reads.
 * Fields marked secret are Pulumi secrets in the stack.
 */
import type * as pulumi from "@pulumi/pulumi";

export type Platform = "kubernetes" | "aci" | "docker";
export type OutputPlatform = Platform | "local";
/** Fleet mode. A const object (not only a union) so schema inference names it as an enum. */
export const Mode = { shared: "shared", perUser: "per-user" } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
/**
 * Where the servers' model credential comes from (config `credentials`), so clients know what to pass:
 * "githubToken": nothing (a service token is on the servers); "provider": `provider` + `model` on every
 * create and resume; "perSession": the user's own `gitHubToken` on every create and resume.
 */
export type CredentialKind = "githubToken" | "provider" | "perSession";

/** One directly dialable server (docker, aci, local). Kubernetes pods are reached by port-forward instead. */
export interface ReplicaOutput {
    readonly name: string;
    /** `host:port` */
    readonly endpoint: string;
    /** Local fleet only: the server's process id (fault tests kill it). */
    readonly pid?: number;
}

/**
 * Replica names on platforms that name each server (Docker containers, ACI groups): `<fleet>-1` …
 * `<fleet>-N`. Replicas are interchangeable, so the index is their identity.
 */
export function replicaNames(fleet: string, replicas: number): string[] {
    return Array.from({ length: replicas }, (_, i) => `${fleet}-${i + 1}`);
}

/** BYOK provider settings that clients pass on every create and resume (secret: carries apiKey). */
export interface ProviderOutput {
    readonly type: string;
    readonly baseUrl: string;
    readonly model: string;
    readonly apiKey?: string;
}

export interface UserOutput {
    /** What the user's backend dials, `host:port`. */
    readonly endpoint: string;
    /** secret */
    readonly connectionToken: string;
    /** Kubernetes: label selector of this user's server pod (for port-forward). */
    readonly selector?: string;
    readonly suspended?: boolean;
    /**
     * The platform object that runs this user's server (Kubernetes Deployment, Docker container, ACI
     * container group, local fleet user): what the wake path's control and the idle suspender address.
     */
    readonly server?: string;
}

/** What a platform's deploy returns: {@link FleetOutputs} with each field a Pulumi input (index.ts exports them as stack outputs). */
export type StackOutputs = { [K in keyof FleetOutputs]?: pulumi.Input<FleetOutputs[K]> };

export interface FleetOutputs {
    readonly platform: OutputPlatform;
    readonly mode: Mode;
    /** shared mode: the load balancer, `host:port`. */
    readonly endpoint?: string;
    /** shared mode; secret */
    readonly connectionToken?: string;
    /** Kubernetes */
    readonly namespace?: string;
    /** Kubernetes: label selector of the server pods, `k=v,k=v`. */
    readonly selector?: string;
    /** Kubernetes: the container port to port-forward to. */
    readonly port?: number;
    /** docker / aci / local: each replica's own address. */
    readonly replicas?: readonly ReplicaOutput[];
    /** secret; present when Redis is on */
    readonly redisUrl?: string;
    readonly sessionStatePath?: string;
    /** secret; present with BYOK */
    readonly provider?: ProviderOutput;
    /**
     * What sessions authenticate with (absent in outputs written before this field: read it as "githubToken",
     * or "provider" when `provider` is present). Per-user: users with their own githubToken use it on their server.
     */
    readonly credentials?: CredentialKind;
    /**
     * The servers run the image's tool guard (a preToolUse hook: no shell, no cross-session tools, file
     * tools only in each session's own folder), so even a session created with `approveAll` is confined.
     * The smoke suite's red-team then fails on any leak in its approveAll run too.
     */
    readonly toolGuard?: boolean;
    /** per-user mode */
    readonly users?: Readonly<Record<string, UserOutput>>;
    /**
     * per-user mode with `idleSuspendMinutes`: the window; on Kubernetes the Role a backend's
     * ServiceAccount is bound to for `ensureRunning` and the ConfigMap its wakes mark users in; on ACI
     * the custom role a backend's identity is given on each user's group, and where the groups are.
     */
    readonly idleSuspend?: {
        /** The window (absent on a local fleet started without a suspender). */
        readonly minutes?: number;
        readonly wakerRole?: string;
        readonly wakeMarks?: string;
        /** ACI: resource id of the role that reads, starts and stops container groups (assign it per user group). */
        readonly roleDefinitionId?: string;
        /** ACI: where the user groups are (aciControl's subscriptionId and resourceGroupName). */
        readonly subscriptionId?: string;
        readonly resourceGroupName?: string;
        /** local fleet: its control endpoint (`localFleetControl` in `@copilot-fleet/client`) and bearer token (secret). */
        readonly controlUrl?: string;
        readonly controlToken?: string;
    };
}
