/** Compiles copilot-session-cleanup (images/copilot-cli/tools) with the host gcc, as the image's build stage does. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

export const TOOLS_DIR = path.join(__dirname, "../../images/copilot-cli/tools");

export function compileCleanupTool(outDir: string): string {
    const out = path.join(outDir, "copilot-session-cleanup");
    const cc = spawnSync("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", out, path.join(TOOLS_DIR, "copilot-session-cleanup.c"), path.join(TOOLS_DIR, "rpc.c")], {
        encoding: "utf8",
        timeout: 60_000,
    });
    if (cc.error) throw new Error(`cannot run gcc (apt-get install gcc libc6-dev): ${cc.error.message}`);
    if (cc.status !== 0) throw new Error(`gcc failed: ${cc.stderr}`);
    return out;
}
