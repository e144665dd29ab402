/**
 * Runs index.ts the way `pulumi up` does (ts-node, the project's tsconfig, CommonJS), but under
 * mocks: config comes from the COPILOT_FLEET_TEST_CONFIG env var (JSON of key → value, without
 * the project prefix). Prints one JSON line: { resources: [{type,name}], outputs, warnings } or
 * { error, warnings }.
 *
 * The secret-bearing keys are stored as secrets (as `pulumi config set --secret` does), and
 * `Config.get` warns on them the way upstream's disabled check would (pulumi/pulumi#7127), so
 * `warnings` shows whether the program reads a secret as plain text.
 */
import * as pulumi from "@pulumi/pulumi";
import { SECRET_CONFIG_KEYS } from "../../components/config";
import { installMocks, promiseOf } from "./pulumiMocks";

const warnings: string[] = [];

function watchPlainReadsOfSecrets(secretKeys: readonly string[]): void {
    const log = pulumi.log as { warn: (msg: string) => Promise<void> };
    log.warn = (msg: string) => {
        warnings.push(msg);
        return Promise.resolve();
    };
    const get = pulumi.Config.prototype.get;
    pulumi.Config.prototype.get = function (this: pulumi.Config, key: string, opts?: pulumi.StringConfigOptions) {
        const value = get.call(this, key, opts);
        if (value !== undefined && secretKeys.includes(`${this.name}:${key}`)) {
            pulumi.log.warn(`Configuration '${this.name}:${key}' value is a secret; use \`getSecret\` instead of \`get\``);
        }
        return value;
    } as typeof get;
}

async function main(): Promise<void> {
    const rec = installMocks();
    const raw = JSON.parse(process.env.COPILOT_FLEET_TEST_CONFIG ?? "{}") as Record<string, string>;
    const secretKeys = Object.keys(raw).filter((k) => (SECRET_CONFIG_KEYS as readonly string[]).includes(k)).map((k) => `copilot-fleet:${k}`);
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [`copilot-fleet:${k}`, v])), secretKeys);
    watchPlainReadsOfSecrets(secretKeys);
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require("../../index") as () => Promise<Record<string, unknown>>;
        const outputs = await program();
        const resolved: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(outputs)) resolved[k] = await promiseOf(v as pulumi.Input<unknown>);
        await new Promise((r) => setTimeout(r, 100));
        console.log(JSON.stringify({ resources: rec.resources.map((r) => ({ type: r.type, name: r.name })), outputs: resolved, warnings }));
    } catch (e) {
        console.log(JSON.stringify({ error: (e as Error).message, resources: rec.resources.map((r) => ({ type: r.type, name: r.name })), warnings }));
    }
}

void main();
