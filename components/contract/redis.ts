/** Redis settings shared by every platform that runs Redis for session locks. */

/** Official Redis image, pinned. Locks are short-lived keys: no persistence needed. */
export const REDIS_IMAGE = "redis:7.4.2-bookworm";
export const REDIS_PORT = 6379;
/** uid/gid of the `redis` user in the official image. */
export const REDIS_UID = 999;
/** Generated Redis passwords: 40 alphanumerics. */
export const REDIS_PASSWORD_LENGTH = 40;

/**
 * `redis.conf` content. The password lives in this file (mounted from a secret store), never in
 * args or plain env, so it does not show in the container spec or `ps`.
 */
export function redisConf(password: string, port = REDIS_PORT): string {
    return [
        `requirepass ${password}`,
        `port ${port}`,
        "bind * -::*",
        "protected-mode yes",
        // Session locks are leases: losing them on restart is safe, so skip disk persistence.
        'save ""',
        "appendonly no",
        "maxmemory 96mb",
        // Never evict a lock to make room: fail writes instead, so the lock fails closed.
        "maxmemory-policy noeviction",
        "",
    ].join("\n");
}
