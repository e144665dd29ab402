/**
 * Redis holds the application-level session locks (two servers writing one session concurrently
 * fork it). An unauthenticated Redis lets any pod steal or drop locks, so it must require a password that
 * itself comes from a secret store.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { containerValidators } from "./adapters";
import { ContainerView, EnvView, isSameOrAncestor } from "./common";

/** `--requirepass` followed by `$(VAR)`, `$VAR`, `${VAR}` (optionally quoted), or a literal. */
const REQUIREPASS_RE = /--requirepass(?:=|\s+)["']?(\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|[^\s"']+)/;

/** Why this Redis container does not require a secret-sourced password, or undefined when it does. */
export function redisPasswordProblem(v: ContainerView): string | undefined {
    const line = v.commandLine().join(" ");
    const env = v.env();
    const secretEnv = (name: string): EnvView | undefined =>
        env.find((e) => e.name === name && (e.source === "secret" || (v.platform === "docker" && (e.value ?? "") !== "")));
    if (env.some((e) => e.name === "ALLOW_EMPTY_PASSWORD" && /^(yes|true|1)$/i.test(e.value ?? ""))) {
        return "sets ALLOW_EMPTY_PASSWORD";
    }
    const m = REQUIREPASS_RE.exec(line);
    if (m !== null) {
        const varName = m[2] ?? m[3] ?? m[4];
        if (varName === undefined) return "passes the password literally in --requirepass, where `ps`, the pod spec and previews show it";
        return secretEnv(varName) ? undefined : `passes --requirepass $${varName} but ${varName} is not set from a secret`;
    }
    // A config file read from a secret volume (the password lives in the file, as our Redis does).
    const secretMounts = v.mounts().filter((mt) => mt.kind === "secret");
    const confFiles = v.commandLine().filter((a) => /\.conf$/.test(a));
    if (confFiles.some((f) => secretMounts.some((mt) => isSameOrAncestor(mt.path, f)))) return undefined;
    // Docker: a config file written by the provider (`uploads`), whose content the policy can read.
    const provided = v.providedFiles();
    if (confFiles.some((f) => provided.some((u) => u.path === f && /^\s*requirepass\s+\S+/m.test(u.content ?? "")))) return undefined;
    // Images that read the password from the environment (bitnami: REDIS_PASSWORD).
    if (secretEnv("REDIS_PASSWORD")) return undefined;
    return "starts without requirepass";
}

export const redisPassword: ResourceValidationPolicy = {
    name: "copilot-redis-password",
    description:
        "Redis (the session-lock store) requires a password that comes from a secret store: `--requirepass $(VAR)` with VAR from a secret, a redis.conf mounted from a Secret (Docker: uploaded with requirepass in it), or REDIS_PASSWORD from a secret.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: containerValidators((views, args, report) => {
        const redis = views.filter((v) => v.isRedis());
        if (redis.length === 0) args.notApplicable("no Redis container");
        for (const v of redis) {
            const problem = redisPasswordProblem(v);
            if (problem !== undefined) {
                report(
                    `${v.where} ${problem}: make Redis require a password read from a secret (e.g. redis-server /etc/redis/redis.conf with the file, containing ` +
                        "requirepass, mounted from a Secret), because without one any pod that reaches Redis can take or release other clients' session locks.",
                );
            }
        }
    }),
};
