/**
 * Scale benchmark for `mode: per-user` on Kubernetes: evaluates the real program (index.ts, stack
 * config set as `pulumi up` would) under Pulumi mocks for 10, 100 and 1,000 users, each in a fresh
 * child process so peak RSS belongs to one size. Prints, per size: time to load the modules, time to
 * evaluate the program (until every registration has reached the mock engine and every output has
 * resolved), peak RSS, resource count; then the 1000/100 time ratio against the targets
 * (≤ 12×, 1,000 users < 20 s). Also reports which provider SDKs a Kubernetes-only stack loaded:
 * `@pulumi/azure-native` must never be among them.
 *
 *   npm run bench:users                  # 10, 100, 1000
 *   npm run bench:users -- 10 100 1000 3000
 *   npm run bench:users -- --json        # one JSON line per size, for scripts
 *
 * Profile one size: node --cpu-prof -r ts-node/register/transpile-only scripts/bench-users.ts --child 1000
 */
import { execFile } from "child_process";
import * as path from "path";
import { performance } from "perf_hooks";
import { promisify } from "util";

export interface ModuleWatch {
    /** Module requests (as written in `require`/`import`) that named azure-native, loaded or not. */
    readonly azureNativeRequests: string[];
    /** Files in require.cache whose path contains azure-native. */
    azureNativeFiles(): string[];
    /** `@pulumi/<pkg>` packages with at least one file in require.cache. */
    pulumiPackages(): string[];
    restore(): void;
}

interface ModuleInternals {
    _load(request: string, parent: unknown, isMain: boolean): unknown;
}

/**
 * Watches every module load from now on: a hook on Module._load sees attempts even when they fail
 * (the package is not installed) or are caught, and require.cache shows what did load.
 */
export function watchModuleLoads(): ModuleWatch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Module = require("module") as ModuleInternals;
    const original = Module._load;
    const azureNativeRequests: string[] = [];
    Module._load = function (this: unknown, request: string, parent: unknown, isMain: boolean): unknown {
        if (request.includes("azure-native")) azureNativeRequests.push(request);
        return original.call(this, request, parent, isMain);
    };
    const cached = () => Object.keys(require.cache);
    return {
        azureNativeRequests,
        azureNativeFiles: () => cached().filter((f) => f.includes("azure-native")),
        pulumiPackages: () => [...new Set(cached().map((f) => /node_modules[\\/]@pulumi[\\/]([^\\/]+)[\\/]/.exec(f)?.[1]).filter((p): p is string => p !== undefined))].sort(),
        restore: () => {
            Module._load = original;
        },
    };
}

/** The `users` config for `n` users: every 10th suspended, every 7th with their own GitHub token. */
export function benchUsers(n: number): string {
    const users: unknown[] = [];
    for (let i = 0; i < n; i++) {
        const id = `user-${String(i).padStart(5, "0")}`;
        if (i % 10 === 9) users.push({ id, suspended: true });
        else if (i % 7 === 6) users.push({ id, githubToken: `gho_user_${i}` });
        else users.push(id);
    }
    return JSON.stringify(users);
}

export interface ChildResult {
    readonly users: number;
    readonly loadMs: number;
    readonly evalMs: number;
    /** CPU time (user + system) of the evaluation: less sensitive than wall time to other load on the machine. */
    readonly evalCpuMs: number;
    readonly maxRssMb: number;
    readonly resources: number;
    readonly outputUsers: number;
    readonly azureNativeRequests: readonly string[];
    readonly azureNativeFiles: readonly string[];
    readonly pulumiPackages: readonly string[];
}

/**
 * Mocks that only count registrations (no copy of every input kept): separates the program's own
 * cost from the test recorder's (test/helpers/pulumiMocks.ts keeps unwrapped inputs and state of
 * every resource).
 */
function installCountingMocks(pulumi: typeof import("@pulumi/pulumi")): { resources: { length: number } } {
    const counter = { length: 0 };
    pulumi.runtime.setMocks(
        {
            newResource(args: import("@pulumi/pulumi").runtime.MockResourceArgs) {
                counter.length++;
                const inputs = args.inputs as Record<string, unknown>;
                const state = args.type === "random:index/randomPassword:RandomPassword" ? { ...inputs, result: `mock-${args.name}` } : inputs;
                return { id: `${args.name}-id`, state };
            },
            call() {
                throw new Error("no calls expected");
            },
        },
        "copilot-fleet",
        "bench",
        false,
    );
    return { resources: counter };
}

async function child(n: number, lightMocks: boolean): Promise<void> {
    const watch = watchModuleLoads();
    const t0 = performance.now();
    // Everything the program loads, loaded before the clock starts, so evalMs is the per-user work.
    const pulumi = await import("@pulumi/pulumi");
    const { installMocks, promiseOf } = await import("../test/helpers/pulumiMocks");
    const rec = lightMocks ? installCountingMocks(pulumi) : installMocks();
    pulumi.runtime.setAllConfig(
        {
            "copilot-fleet:platform": "kubernetes",
            "copilot-fleet:mode": "per-user",
            "copilot-fleet:githubToken": "gho_service",
            "copilot-fleet:image": "registry.example.com/copilot-cli:1.0.102",
            "copilot-fleet:users": benchUsers(n),
        },
        ["copilot-fleet:githubToken"],
    );
    await import("../components/kubernetes/deploy");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require("../index") as () => Promise<Record<string, unknown>>;
    const t1 = performance.now();
    const cpu1 = process.cpuUsage();

    const outputs = await program();
    const users = (await promiseOf(outputs.users as import("@pulumi/pulumi").Output<Record<string, unknown>>)) ?? {};
    for (const v of Object.values(outputs)) await promiseOf(v as import("@pulumi/pulumi").Input<unknown>);
    // Waits until every queued registration has reached the (mock) engine.
    await pulumi.runtime.disconnect();
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu1);

    const result: ChildResult = {
        users: n,
        loadMs: Math.round(t1 - t0),
        evalMs: Math.round(t2 - t1),
        evalCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        resources: rec.resources.length,
        outputUsers: Object.keys(users).length,
        azureNativeRequests: watch.azureNativeRequests,
        azureNativeFiles: watch.azureNativeFiles(),
        pulumiPackages: watch.pulumiPackages(),
    };
    process.stdout.write(`BENCH ${JSON.stringify(result)}\n`);
}

/** Runs one size in a fresh Node process (ts-node, transpile only) and returns its measurements. */
export async function runChild(n: number, extraNodeArgs: readonly string[] = []): Promise<ChildResult & { processMs: number }> {
    const start = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [...extraNodeArgs, "-r", "ts-node/register/transpile-only", __filename, "--child", String(n)], {
        cwd: path.join(__dirname, ".."),
        env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, "..", "tsconfig.json") },
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout.split("\n").find((l) => l.startsWith("BENCH "));
    if (!line) throw new Error(`child for ${n} users printed no result:\n${stdout}`);
    return { ...(JSON.parse(line.slice(6)) as ChildResult), processMs: Math.round(performance.now() - start) };
}

async function main(argv: readonly string[]): Promise<number> {
    const json = argv.includes("--json");
    const sizes = argv.filter((a) => /^\d+$/.test(a)).map(Number);
    if (sizes.length === 0) sizes.push(10, 100, 1000);
    const results = new Map<number, ChildResult & { processMs: number }>();
    if (!json) console.log("users   resources  load(ms)  eval(ms)  evalCPU(ms)  process(ms)  peakRSS(MB)");
    for (const n of sizes) {
        const r = await runChild(n);
        results.set(n, r);
        if (json) console.log(JSON.stringify(r));
        else console.log(`${String(n).padStart(5)}  ${String(r.resources).padStart(9)}  ${String(r.loadMs).padStart(8)}  ${String(r.evalMs).padStart(8)}  ${String(r.evalCpuMs).padStart(11)}  ${String(r.processMs).padStart(11)}  ${String(r.maxRssMb).padStart(11)}`);
    }
    let ok = true;
    for (const r of results.values()) {
        if (r.azureNativeRequests.length > 0 || r.azureNativeFiles.length > 0) {
            console.log(`FAIL ${r.users} users: @pulumi/azure-native was requested (${r.azureNativeRequests.join(", ")}) or loaded (${r.azureNativeFiles.length} files)`);
            ok = false;
        }
        if (r.outputUsers !== r.users) {
            console.log(`FAIL ${r.users} users: outputs list ${r.outputUsers} users`);
            ok = false;
        }
    }
    const first = [...results.values()][0];
    if (!json && first) console.log(`provider SDKs loaded by a Kubernetes-only stack: ${first.pulumiPackages.join(", ")} (azure-native: none requested, none loaded)`);
    const r100 = results.get(100);
    const r1000 = results.get(1000);
    if (r100 && r1000) {
        const ratio = r1000.evalMs / Math.max(1, r100.evalMs);
        const within = ratio <= 12;
        const fast = r1000.evalMs < 20_000;
        console.log(`eval time 1000/100: ${ratio.toFixed(2)}x (target <= 12x: ${within ? "ok" : "FAIL"}); 1000 users: ${(r1000.evalMs / 1000).toFixed(2)} s (target < 20 s: ${fast ? "ok" : "FAIL"})`);
        ok = ok && within && fast;
    }
    return ok ? 0 : 1;
}

if (require.main === module) {
    const argv = process.argv.slice(2);
    const childAt = argv.indexOf("--child");
    if (childAt >= 0) {
        child(Number(argv[childAt + 1]), argv.includes("--light-mocks")).catch((e: unknown) => {
            console.error(e);
            process.exit(1);
        });
    } else {
        main(argv).then(
            (code) => process.exit(code),
            (e: unknown) => {
                console.error(e);
                process.exit(1);
            },
        );
    }
}
