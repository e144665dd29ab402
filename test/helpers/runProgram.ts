/**
 * Runs index.ts the way `pulumi up` does (ts-node, the project's tsconfig, CommonJS), but under
 * mocks: config comes from the COPILOT_FLEET_TEST_CONFIG env var (JSON of key → value, without
 * the project prefix). Prints one JSON line: { resources: [{type,name}], outputs } or { error }.
 */
import * as pulumi from "@pulumi/pulumi";
import { installMocks, promiseOf } from "./pulumiMocks";

async function main(): Promise<void> {
    const rec = installMocks();
    const raw = JSON.parse(process.env.COPILOT_FLEET_TEST_CONFIG ?? "{}") as Record<string, string>;
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [`copilot-fleet:${k}`, v])), []);
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require("../../index") as () => Promise<Record<string, unknown>>;
        const outputs = await program();
        const resolved: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(outputs)) resolved[k] = await promiseOf(v as pulumi.Input<unknown>);
        await new Promise((r) => setTimeout(r, 100));
        console.log(JSON.stringify({ resources: rec.resources.map((r) => ({ type: r.type, name: r.name })), outputs: resolved }));
    } catch (e) {
        console.log(JSON.stringify({ error: (e as Error).message, resources: rec.resources.map((r) => ({ type: r.type, name: r.name })) }));
    }
}

void main();
