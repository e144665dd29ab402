/**
 * The idle suspender as a process: what the fleet's suspender container runs (`node suspender-main.js`
 * in a Node.js image, with this package's built files mounted beside it). Settings from the environment:
 *
 * - `SUSPENDER_PLATFORM`: `kubernetes` (scales Deployments through the pod's service account), `docker`
 *   (stops containers through the engine socket) or `aci` (stops container groups through ARM with the
 *   group's managed identity);
 * - `SUSPENDER_IDLE_MINUTES`: the stack's `idleSuspendMinutes`;
 * - `SUSPENDER_USERS_FILE`: a JSON file `{ "<id>": { "endpoint", "connectionToken", "server", "companions"? } }` (a
 *   mounted Secret: the tokens never go through the environment or the command line);
 * - `SUSPENDER_NAMESPACE` and `SUSPENDER_WAKE_MARKS` (kubernetes: the ConfigMap wakes mark users in);
 * - `SUSPENDER_SUBSCRIPTION_ID`, `SUSPENDER_RESOURCE_GROUP`, `SUSPENDER_AZURE_CLIENT_ID` (aci: where the
 *   user groups are, and which identity's tokens to ask the metadata service for), `SUSPENDER_ARM_ENDPOINT`
 *   and `SUSPENDER_IMDS_ENDPOINT` (aci, optional: another cloud's ARM, another token service);
 * - `SUSPENDER_INTERVAL_SECONDS`, `SUSPENDER_HEARTBEAT_FILE` (rewritten after every round; the probes read it), both optional.
 *
 * Exit: 2 on bad settings (the message names the variable), 0 after SIGTERM/SIGINT once the round in hand is done.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { aciControl, dockerControl, kubernetesControl, managedIdentityToken, type ServerControl } from "./control";
import { IdleSuspender, type SuspendTarget } from "./suspender";

interface UserEntry {
    readonly endpoint: string;
    readonly connectionToken: string;
    readonly server: string;
    /** docker: containers stopped and started with the server (its session-cleanup container). */
    readonly companions?: readonly string[];
}

function fail(message: string): never {
    process.stderr.write(`copilot-fleet suspender: ${message}\n`);
    process.exit(2);
}

export function readUsers(file: string): Map<string, UserEntry> {
    let parsed: unknown;
    try {
        parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
        throw new Error(`SUSPENDER_USERS_FILE ${file}: ${(e as Error).message.replace(/ in JSON at.*$/, "")}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`SUSPENDER_USERS_FILE ${file}: not a JSON object of users`);
    const users = new Map<string, UserEntry>();
    for (const [id, v] of Object.entries(parsed as Record<string, Partial<UserEntry>>)) {
        // Never echo an entry: it holds a token.
        if (typeof v?.endpoint !== "string" || typeof v.connectionToken !== "string" || typeof v.server !== "string") {
            throw new Error(`SUSPENDER_USERS_FILE ${file}: user ${JSON.stringify(id)} needs string endpoint, connectionToken and server`);
        }
        if (v.companions !== undefined && !(Array.isArray(v.companions) && v.companions.every((c) => typeof c === "string"))) {
            throw new Error(`SUSPENDER_USERS_FILE ${file}: user ${JSON.stringify(id)} has companions that are not a list of container names`);
        }
        users.set(id, { endpoint: v.endpoint, connectionToken: v.connectionToken, server: v.server, ...(v.companions ? { companions: [...v.companions] } : {}) });
    }
    return users;
}

function main(): void {
    const env = process.env;
    const minutes = Number(env.SUSPENDER_IDLE_MINUTES);
    if (!Number.isFinite(minutes) || minutes <= 0) fail(`SUSPENDER_IDLE_MINUTES ${JSON.stringify(env.SUSPENDER_IDLE_MINUTES)} is not a positive number`);
    const interval = env.SUSPENDER_INTERVAL_SECONDS === undefined ? undefined : Number(env.SUSPENDER_INTERVAL_SECONDS) * 1000;
    if (interval !== undefined && !(interval > 0)) fail(`SUSPENDER_INTERVAL_SECONDS ${JSON.stringify(env.SUSPENDER_INTERVAL_SECONDS)} is not a positive number`);
    if (!env.SUSPENDER_USERS_FILE) fail("SUSPENDER_USERS_FILE is not set");
    let users: Map<string, UserEntry>;
    try {
        users = readUsers(env.SUSPENDER_USERS_FILE);
    } catch (e) {
        fail((e as Error).message);
    }
    const server = (id: string): string => {
        const u = users.get(id);
        if (!u) throw new Error(`unknown user ${JSON.stringify(id)}`);
        return u.server;
    };
    let control: ServerControl;
    if (env.SUSPENDER_PLATFORM === "kubernetes") {
        if (!env.SUSPENDER_NAMESPACE) fail("SUSPENDER_NAMESPACE is not set (platform kubernetes)");
        control = kubernetesControl({ namespace: env.SUSPENDER_NAMESPACE, deploymentName: server, wakeMarks: env.SUSPENDER_WAKE_MARKS || undefined });
    } else if (env.SUSPENDER_PLATFORM === "docker") {
        control = dockerControl({ containerName: server, companions: (id) => users.get(id)?.companions ?? [] });
    } else if (env.SUSPENDER_PLATFORM === "aci") {
        if (!env.SUSPENDER_SUBSCRIPTION_ID) fail("SUSPENDER_SUBSCRIPTION_ID is not set (platform aci)");
        if (!env.SUSPENDER_RESOURCE_GROUP) fail("SUSPENDER_RESOURCE_GROUP is not set (platform aci)");
        control = aciControl({
            subscriptionId: env.SUSPENDER_SUBSCRIPTION_ID,
            resourceGroupName: env.SUSPENDER_RESOURCE_GROUP,
            groupName: server,
            getToken: managedIdentityToken({ clientId: env.SUSPENDER_AZURE_CLIENT_ID || undefined, endpoint: env.SUSPENDER_IMDS_ENDPOINT || undefined }),
            armEndpoint: env.SUSPENDER_ARM_ENDPOINT || undefined,
        });
    } else {
        fail(`SUSPENDER_PLATFORM ${JSON.stringify(env.SUSPENDER_PLATFORM)} is not accepted; use "kubernetes", "docker" or "aci"`);
    }
    const targets: SuspendTarget[] = [...users].map(([id, u]) => ({ id, endpoint: u.endpoint, connectionToken: u.connectionToken }));
    const heartbeat = env.SUSPENDER_HEARTBEAT_FILE;
    const suspender = new IdleSuspender({
        users: targets,
        control,
        idleMs: minutes * 60_000,
        intervalMs: interval,
        // Written beside it and renamed over it: a reader never sees half a file.
        onRound: heartbeat
            ? (summary) => {
                  writeFileSync(`${heartbeat}.tmp`, `${JSON.stringify(summary)}\n`);
                  renameSync(`${heartbeat}.tmp`, heartbeat);
              }
            : undefined,
    });
    const stop = (): void => void suspender.stop().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    suspender.start();
}

if (require.main === module) main();
