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

export async function buildLibrary(): Promise<void> {
    await run("npm", ["run", "build:lib"], { cwd: ROOT, env: cleanEnv(), maxBuffer: 16 << 20 });
}
