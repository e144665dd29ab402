/**
 * Drives the real Pulumi engine (the `pulumi` CLI, its language host and the resource plugins) for
 * the engine suites in test/engine/. Uses a `pulumi` >= 3.248.0 on PATH if there is one, else the one
 * scripts/pulumi-engine.sh built. Each `EngineStack` gets its own file backend and stack config file in
 * a temporary folder, so suites never touch the repository's Pulumi.<stack>.yaml files, ~/.pulumi, or
 * each other's state, and the passphrase is random per stack.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, run, RunResult } from "./containers";

export const ENGINE_MIN_VERSION = "3.248.0";

export interface Engine {
    /** The `pulumi` binary. */
    readonly bin: string;
    /** Environment every engine command runs with (PATH incl. the engine's bin, PULUMI_HOME when built here). */
    readonly env: NodeJS.ProcessEnv;
}

/** The folder scripts/pulumi-engine.sh builds into (same rule as scripts/pulumi-env.sh). */
export function engineDir(): string {
    if (process.env.COPILOT_FLEET_ENGINE_DIR) return process.env.COPILOT_FLEET_ENGINE_DIR;
    return path.join(os.homedir(), ".cache", "copilot-fleet", "engine");
}

function versionAtLeast(v: string, min: string): boolean {
    const a = v.replace(/^v/, "").split(/[.-]/).map(Number);
    const b = min.split(".").map(Number);
    for (let i = 0; i < 3; i++) {
        if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i];
    }
    return true;
}

let cached: Promise<Engine> | undefined;

/** The engine, or an error that says how to get one. Never skips: the engine suites need it. */
export function engine(): Promise<Engine> {
    cached ??= (async () => {
        const built = path.join(engineDir(), "bin", "pulumi");
        const base: NodeJS.ProcessEnv = { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true" };
        const onPath = await run("pulumi", ["version"], { env: base, check: false }).catch(() => undefined);
        if (onPath && onPath.code === 0 && versionAtLeast(onPath.stdout.trim(), ENGINE_MIN_VERSION) && !existsSync(built)) {
            return { bin: "pulumi", env: base };
        }
        if (!existsSync(built)) {
            throw new Error(`no Pulumi engine: no pulumi >= ${ENGINE_MIN_VERSION} on PATH and none built at ${built}; run \`bash scripts/pulumi-engine.sh\``);
        }
        const bin = path.dirname(built);
        return { bin: built, env: { ...base, PATH: `${bin}:${process.env.PATH ?? ""}`, PULUMI_HOME: path.join(engineDir(), "home") } };
    })();
    return cached;
}

export interface EngineStackOptions {
    /** Stack name (unique per suite). */
    readonly stack: string;
    /** Project folder holding Pulumi.yaml. Default the repository. */
    readonly projectDir?: string;
    /** Plain config values, keys with their namespace (`copilot-fleet:platform`, `kubernetes:kubeconfig`). */
    readonly config?: Readonly<Record<string, string>>;
    /** Secret config values (stored encrypted, as `pulumi config set --secret`). */
    readonly secrets?: Readonly<Record<string, string>>;
    /** Extra environment for every command (DOCKER_HOST, KUBECONFIG, ...). */
    readonly env?: NodeJS.ProcessEnv;
}

export interface EngineRunOptions {
    readonly timeoutMs?: number;
    /** Throw (with the output tail) unless the exit code is 0. Default true. */
    readonly check?: boolean;
}

/** One stack on its own file backend. `create()` first; `remove()` in afterAll. */
export class EngineStack {
    readonly dir: string;
    readonly stack: string;
    readonly projectDir: string;
    readonly configFile: string;
    private readonly passphrase = randomBytes(24).toString("base64url");
    private engine?: Engine;

    constructor(private readonly opts: EngineStackOptions) {
        this.stack = opts.stack;
        this.projectDir = opts.projectDir ?? REPO_ROOT;
        this.dir = mkdtempSync(path.join(os.tmpdir(), `cf-engine-${opts.stack}-`));
        this.configFile = path.join(this.dir, `Pulumi.${opts.stack}.yaml`);
    }

    /** The environment engine commands run with: the backend, the passphrase, the suite's extras. */
    env(): NodeJS.ProcessEnv {
        if (!this.engine) throw new Error("EngineStack.create() first");
        return {
            ...this.engine.env,
            ...this.opts.env,
            PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: this.passphrase,
        };
    }

    /** `pulumi <args>` in the project folder for this stack (adds --stack, --config-file, --non-interactive). */
    async pulumi(args: readonly string[], o: EngineRunOptions = {}): Promise<RunResult> {
        this.engine ??= await engine();
        const flags = ["--stack", this.stack, "--non-interactive"];
        // Only these take --config-file (`stack init` writes Pulumi.<stack>.yaml, which create() moves).
        if (["up", "preview", "destroy", "refresh", "config"].includes(args[0])) flags.push("--config-file", this.configFile);
        // Flags go before a `--` (after it everything is a value).
        const dashes = args.indexOf("--");
        const full = dashes < 0 ? [...args, ...flags] : [...args.slice(0, dashes), ...flags, ...args.slice(dashes)];
        return run(this.engine.bin, full, { cwd: this.projectDir, env: this.env(), timeoutMs: o.timeoutMs ?? 600_000, check: o.check });
    }

    /** Creates the backend, the stack (passphrase secrets) and its config. */
    async create(): Promise<void> {
        this.engine ??= await engine();
        mkdirSync(path.join(this.dir, "state"), { recursive: true });
        const written = path.join(this.projectDir, `Pulumi.${this.stack}.yaml`);
        if (existsSync(written)) throw new Error(`${written} exists: engine stacks keep their config in a temporary folder, pick another stack name`);
        try {
            await this.pulumi(["stack", "init", "--secrets-provider", "passphrase"], { timeoutMs: 60_000 });
        } finally {
            // It holds the passphrase provider's salt, the only thing `stack init` writes.
            if (existsSync(written)) renameSync(written, this.configFile);
        }
        await this.setConfig(this.opts.config ?? {}, this.opts.secrets ?? {});
    }

    /** `pulumi config set` for each key (secrets with --secret), in one command per key. */
    async setConfig(plain: Readonly<Record<string, string>>, secret: Readonly<Record<string, string>> = {}): Promise<void> {
        for (const [k, v] of Object.entries(plain)) await this.pulumi(["config", "set", k, "--", v], { timeoutMs: 60_000 });
        for (const [k, v] of Object.entries(secret)) await this.pulumi(["config", "set", "--secret", k, "--", v], { timeoutMs: 60_000 });
    }

    async removeConfig(key: string): Promise<void> {
        await this.pulumi(["config", "rm", key], { timeoutMs: 60_000 });
    }

    up(o: EngineRunOptions = {}): Promise<RunResult> {
        return this.pulumi(["up", "--yes", "--skip-preview", "--diff"], o);
    }

    preview(extra: readonly string[] = [], o: EngineRunOptions = {}): Promise<RunResult> {
        return this.pulumi(["preview", "--diff", ...extra], o);
    }

    destroy(o: EngineRunOptions = {}): Promise<RunResult> {
        return this.pulumi(["destroy", "--yes", "--skip-preview"], o);
    }

    /** Stack outputs; secrets in plain text only when asked (the smoke suite needs tokens). */
    async outputs(showSecrets = false): Promise<Record<string, unknown>> {
        const r = await this.pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])], { timeoutMs: 60_000 });
        return JSON.parse(r.stdout) as Record<string, unknown>;
    }

    /** The stack's state (checkpoint) as the engine exported it. */
    async exportState(): Promise<{ deployment: { resources?: Array<Record<string, unknown>> } }> {
        const r = await this.pulumi(["stack", "export"], { timeoutMs: 60_000 });
        return JSON.parse(r.stdout) as { deployment: { resources?: Array<Record<string, unknown>> } };
    }

    /** Deletes the temporary folder (state, config). Call after destroy; safe to call twice. */
    remove(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}

/**
 * The `N to create/update/replace/delete` counts from an up/preview summary ("+ 3 to create", "~ 1 to
 * update", "3 created", ...). Keys: create, update, replace, delete, same.
 */
export function changeSummary(output: string): Record<string, number> {
    const counts: Record<string, number> = {};
    const words: Record<string, string> = { create: "create", created: "create", update: "update", updated: "update", replace: "replace", replaced: "replace", delete: "delete", deleted: "delete", unchanged: "same" };
    const resourcesAt = output.lastIndexOf("Resources:");
    const summary = resourcesAt >= 0 ? output.slice(resourcesAt) : "";
    for (const m of summary.matchAll(/(\d+)\s+(?:to\s+)?(create|created|update|updated|replace|replaced|delete|deleted|unchanged)\b/g)) {
        counts[words[m[2]]] = (counts[words[m[2]]] ?? 0) + Number(m[1]);
    }
    return counts;
}
