/** Builds the library (dist/) once per test process; the library tests load what consumers load. */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";

export const ROOT = path.resolve(__dirname, "../..");
export const run = promisify(execFile);

/**
 * The environment without npm's own `npm_*` variables: under `npm test` they carry this repository's
 * prefix and workspace settings, which would point a child npm back at the repository.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
    return { ...env, ...extra };
}

/**
 * `npm run build:lib`, unless dist/ is newer than every input. Test files run in parallel and the
 * build starts by removing dist/, so builds take a lock and a second file reuses the first's build
 * instead of deleting it under the first's child processes.
 */
export async function buildLibrary(): Promise<void> {
    const script = [
        'newest=$(find components tsconfig.build.json tsconfig.json package.json -newer dist/.built 2>/dev/null | head -1)',
        'if [ -f dist/.built ] && [ -z "$newest" ]; then exit 0; fi',
        "npm run build:lib && touch dist/.built",
    ].join("\n");
    await run("flock", [path.join(ROOT, ".library-build.lock"), "sh", "-c", script], { cwd: ROOT, env: cleanEnv(), maxBuffer: 16 << 20 });
}
