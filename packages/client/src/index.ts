/** Application-side pieces for backends that use a copilot-fleet deployment. */
export {
    RedisSessionLock,
    LockUnavailableError,
    LockTimeoutError,
    LockLostError,
    DEFAULT_LOCK_KEY_PREFIX,
    DEFAULT_LEASE_MS,
    DEFAULT_WAIT_MS,
    DEFAULT_COMMAND_TIMEOUT_MS,
} from "./lock";
export type { LockHandle, RedisSessionLockOptions, AcquireOptions } from "./lock";
export { rankReplicas, pickReplica, rendezvousScore } from "./routing";
export {
    ownedSessionId,
    ownerTag,
    ownerOf,
    isOwnedSessionId,
    isOwnedBy,
    assertOwner,
    resumeOwnedSession,
    sessionsOwnedBy,
    SessionOwnershipError,
} from "./ownership";
export type { OwnershipOptions, ResumingClient } from "./ownership";
export {
    tenantSessionConfig,
    tenantWorkspace,
    createTenantSession,
    tenantPermissionHandler,
    tenantManagedSettings,
    isInsideWorkspace,
    TenantWorkspaceError,
    TENANT_FILE_TOOLS,
    SHELL_TOOLS,
    NEVER_TENANT_TOOLS,
} from "./tenant";
export type { TenantSessionOptions, TenantSessionConfig, TenantResumeConfig, TenantClient } from "./tenant";
export { ensureRunning, WakeError, WakeRefusedError, DEFAULT_WAKE_TIMEOUT_MS } from "./wake";
export type { EnsureRunningOptions, WakeResult } from "./wake";
export { kubernetesControl, dockerControl, aciControl, managedIdentityToken, localFleetControl, ControlError, SUSPENDED_MARKER, AZURE_SUSPENDED_TAG } from "./control";
export type { ServerControl, UserServerState, KubernetesControlOptions, DockerControlOptions, AciControlOptions, ManagedIdentityTokenOptions, LocalFleetControlOptions } from "./control";
export { IdleSuspender, defaultInterval } from "./suspender";
export type { IdleSuspenderOptions, SuspendTarget, RoundSummary, UserDecision } from "./suspender";
export { readServerActivity, idleVerdict } from "./idle";
export type { ServerActivity, SessionActivity, IdleVerdict } from "./idle";
export { RpcConnection, RpcError, ping } from "./rpc";
