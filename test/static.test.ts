import { execFile } from "child_process";
import { promisify } from "util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

/** Runs a tool from node_modules/.bin; resolves with its output, or rejects with the findings. */
async function tool(bin: string, args: string[]): Promise<string> {
    try {
        const { stdout, stderr } = await run(`node_modules/.bin/${bin}`, args, { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
        return stdout + stderr;
    } catch (e) {
        const err = e as { stdout?: string; stderr?: string; message: string };
        throw new Error(`${bin} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}${err.message}`);
    }
}

describe("static checks", () => {
    it("typechecks (strict, the project's tsconfig)", async () => {
        await expect(tool("tsc", ["-p", "tsconfig.json", "--noEmit"])).resolves.toBeTypeOf("string");
    }, 240_000);

    it("lints clean, including Pulumi's Output-in-template-literal rules", async () => {
        await expect(tool("eslint", ["--max-warnings", "0", "."])).resolves.toBeTypeOf("string");
    }, 240_000);
});
