/**
 * Shared by the fleet tests: run components/deploy.ts for a raw config under the mocks installed by
 * the calling test (installMocks() in beforeAll), and resolve every stack output.
 */
import type * as pulumi from "@pulumi/pulumi";
import { execFile } from "child_process";
import { promisify } from "util";
import type { RawConfig } from "../../components/config";
import type { StackOutputs } from "../../components/deploy";
import { promiseOf, settle } from "./pulumiMocks";

/** Loosely typed access to recorded inputs, for assertions on rendered objects. */
export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Deploys `raw` (imports the program lazily, so the caller's mocks are already in place) and resolves outputs. */
export async function deployUnderMocks(raw: RawConfig): Promise<{ outputs: StackOutputs; resolved: Record<string, unknown> }> {
    const { deploy } = await import("../../components/deploy");
    const { parseFleetConfig } = await import("../../components/config");
    const outputs = await deploy(parseFleetConfig(raw));
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs)) resolved[k] = await promiseOf(v as pulumi.Input<unknown>);
    await settle();
    return { outputs, resolved };
}

export interface ProgramResult {
    resources: Array<{ type: string; name: string }>;
    outputs?: Record<string, unknown>;
    error?: string;
    /** Warnings the program logged (runProgram.ts: a plain read of a secret key logs one). */
    warnings?: string[];
}

/**
 * index.ts loaded the way `pulumi up` loads it: ts-node with the project's tsconfig (type-checked,
 * CommonJS), not vitest's bundler, in a child process (test/helpers/runProgram.ts) under mocks.
 */
export async function runProgramUnderTsNode(config: Record<string, string>): Promise<ProgramResult> {
    const { stdout } = await promisify(execFile)(process.execPath, ["-r", "ts-node/register", "test/helpers/runProgram.ts"], {
        env: { ...process.env, TS_NODE_PROJECT: "tsconfig.json", COPILOT_FLEET_TEST_CONFIG: JSON.stringify(config) },
        timeout: 120_000,
    });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "") as ProgramResult;
}
