/**
 * The idle suspender contract, platform-neutral: what runs (the `@copilot-fleet/client` suspender,
 * `suspender-main.js` and the four files it needs, in a pinned Node.js image), its settings, the
 * users file it reads, its resources and the marker every user's platform object carries.
 *
 * Why a Node.js image and not the fleet's own: the CLI image has no Node.js (the CLI binary is a
 * single executable that runs only its own script), and the suspender must speak HTTPS to the
 * Kubernetes API (or HTTP over the Docker socket) as well as JSON-RPC to the servers. The same
 * TypeScript the tests run on real processes is what the container runs: no second implementation.
 * One small process per fleet (measured ~45 MB RSS, see docs/measured.md), not a sidecar per user.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { ServerResources } from "./server";

/** On each user's platform object: "true" when the stack config suspends the user (a wake refuses), else "false". Same key as `@copilot-fleet/client` SUSPENDED_MARKER. */
export const SUSPENDED_MARKER = "copilot-fleet.github.com/suspended";
/** The Node.js image the suspender runs in (pinned by exact version; override with the components' `suspenderImage`). */
export const DEFAULT_SUSPENDER_IMAGE = "docker.io/library/node:20.19.5-bookworm-slim";
/** The official Node.js image's unprivileged `node` user. */
export const SUSPENDER_UID = 1000;
/** Where the code and the users file are mounted in the suspender container. */
export const SUSPENDER_CODE_DIR = "/opt/copilot-fleet/suspender";
export const SUSPENDER_USERS_DIR = "/etc/copilot-fleet/suspender";
export const SUSPENDER_USERS_FILE = `${SUSPENDER_USERS_DIR}/users.json`;
/** The heartbeat the suspender's probes read: rewritten after every round. */
export const SUSPENDER_HEARTBEAT_FILE = "/tmp/suspender-heartbeat";
/** The built files of `@copilot-fleet/client` the suspender needs (node built-ins only beyond these). */
export const SUSPENDER_FILES = ["suspender-main.js", "suspender.js", "control.js", "idle.js", "rpc.js"] as const;
/** Measured ~45 MB RSS with 1,000 users in its list; the limit leaves room for a round's buffers. */
export const SUSPENDER_RESOURCES: ServerResources = { cpuRequest: "10m", cpuLimit: "200m", memoryRequest: "64Mi", memoryLimit: "128Mi" };

/** Rounds: a tenth of the window, between 5 s and 60 s (the same rule as the suspender's default). */
export function suspenderIntervalSeconds(idleMinutes: number): number {
    return Math.min(60, Math.max(5, Math.floor((idleMinutes * 60) / 10)));
}

/** The suspender's environment (no secret in it: tokens come from the mounted users file). */
export function suspenderEnv(platform: "kubernetes" | "docker" | "aci", idleMinutes: number, namespace?: string, wakeMarks?: string): Record<string, string> {
    return {
        SUSPENDER_PLATFORM: platform,
        SUSPENDER_IDLE_MINUTES: String(idleMinutes),
        SUSPENDER_INTERVAL_SECONDS: String(suspenderIntervalSeconds(idleMinutes)),
        SUSPENDER_USERS_FILE,
        SUSPENDER_HEARTBEAT_FILE,
        ...(namespace !== undefined ? { SUSPENDER_NAMESPACE: namespace } : {}),
        ...(wakeMarks !== undefined ? { SUSPENDER_WAKE_MARKS: wakeMarks } : {}),
    };
}

/** Liveness and readiness: the last round finished within three intervals (a wedged loop is restarted). */
export function suspenderProbeCommand(idleMinutes: number): string[] {
    const maxAgeMs = 3 * suspenderIntervalSeconds(idleMinutes) * 1000 + 30_000;
    // No spaces in the script: podman's Docker API hands a health-check command back split at spaces,
    // which a real `pulumi up` read as a change (and an update) every time.
    return ["node", "-e", `process.exit(Date.now()-require("fs").statSync(${JSON.stringify(SUSPENDER_HEARTBEAT_FILE)}).mtimeMs<${maxAgeMs}?0:1)`];
}

export interface SuspenderUserEntry {
    readonly endpoint: string;
    readonly connectionToken: string;
    /** The platform object (Deployment, container) the suspender stops. */
    readonly server: string;
    /** Docker: containers stopped after the server and started again when it runs (its session-cleanup container). */
    readonly companions?: readonly string[];
}

/** The users file (secret): `{ "<id>": { endpoint, connectionToken, server } }`. */
export function suspenderUsersJson(users: Readonly<Record<string, SuspenderUserEntry>>): string {
    return JSON.stringify(users);
}

/** Where `@copilot-fleet/client`'s built files are: this repository's workspace (source or built library), else the installed package. */
export function clientDistDir(): string {
    const candidates = [path.resolve(__dirname, "../../packages/client/dist"), path.resolve(__dirname, "../../../packages/client/dist")];
    try {
        candidates.push(path.join(path.dirname(require.resolve("@copilot-fleet/client/package.json")), "dist"));
    } catch {
        /* not installed: only the workspace copies are candidates */
    }
    const found = candidates.find((d) => SUSPENDER_FILES.every((f) => existsSync(path.join(d, f))));
    if (found === undefined) {
        throw new Error(
            `idleSuspendMinutes needs the built @copilot-fleet/client (its ${SUSPENDER_FILES.join(", ")}); run \`npm run build -w @copilot-fleet/client\` (looked in ${candidates.join(", ")})`,
        );
    }
    return found;
}

/** file name → contents of the suspender's code, ready for a ConfigMap or container uploads. */
export function suspenderCode(dir: string = clientDistDir()): Record<string, string> {
    return Object.fromEntries(SUSPENDER_FILES.map((f) => [f, readFileSync(path.join(dir, f), "utf8")]));
}
