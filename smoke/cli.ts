/**
 * npm run smoke -- --stack <name> | --outputs <file.json>
 *   [--provider-base-url URL --provider-type openai --provider-api-key KEY --model M]
 *   [--json report.json] [--turn-timeout-ms N] [--lock-writers N]
 *   [--redteam-provider-base-url URL [--redteam-model M]]   the tool-calling stub model for the red-team check
 *   env SMOKE_GITHUB_TOKEN: a user's GitHub token for stacks with `credentials: "perSession"` (env only:
 *   a flag would show the token in `ps`); without it the model-turn checks SKIP.
 *   env SMOKE_REDTEAM_PROVIDER_API_KEY: the red-team model's API key, when it asks for one (env only).
 *
 * Exit code 0 only when no check failed.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import type { FleetOutputs, ProviderOutput } from "../components/contract/outputs";
import { ENV } from "../components/contract/server";
import { formatResult, runSmokeSuite, type SmokeReport } from "./checks";

export interface SmokeCliArgs {
    stack?: string;
    outputs?: string;
    json?: string;
    provider?: ProviderOutput;
    turnTimeoutMs?: number;
    lockWriters?: number;
    /** The tool-calling stub the red-team check drives (reachable from the servers). */
    redTeamProvider?: ProviderOutput;
    /** `SMOKE_GITHUB_TOKEN`: passed as `gitHubToken` on every create and resume of a perSession stack. */
    gitHubToken?: string;
}

/** The env var the smoke CLI takes the per-session GitHub token from. */
export const SMOKE_GITHUB_TOKEN_ENV = "SMOKE_GITHUB_TOKEN";
/** The env var the smoke CLI takes the red-team model's API key from. */
export const SMOKE_REDTEAM_API_KEY_ENV = "SMOKE_REDTEAM_PROVIDER_API_KEY";

/** Flags win over env; a provider is only formed when a base URL is given. */
export function parseSmokeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SmokeCliArgs {
    const out: SmokeCliArgs = {};
    if (env[SMOKE_GITHUB_TOKEN_ENV]) out.gitHubToken = env[SMOKE_GITHUB_TOKEN_ENV];
    const p: { baseUrl?: string; type?: string; apiKey?: string; model?: string } = {
        baseUrl: env[ENV.providerBaseUrl],
        type: env[ENV.providerType],
        apiKey: env[ENV.providerApiKey],
        model: env[ENV.model],
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = (): string => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value`);
            return v;
        };
        const num = (): number => {
            const n = Number(next());
            if (!Number.isFinite(n) || n <= 0) throw new Error(`${a} needs a positive number`);
            return n;
        };
        switch (a) {
            case "--stack":
                out.stack = next();
                break;
            case "--outputs":
                out.outputs = next();
                break;
            case "--json":
                out.json = next();
                break;
            case "--provider-base-url":
                p.baseUrl = next();
                break;
            case "--provider-type":
                p.type = next();
                break;
            case "--provider-api-key":
                p.apiKey = next();
                break;
            case "--model":
                p.model = next();
                break;
            case "--redteam-provider-base-url":
                out.redTeamProvider = { type: "openai", baseUrl: next(), model: out.redTeamProvider?.model ?? "stub-model" };
                break;
            case "--redteam-model":
                out.redTeamProvider = { type: "openai", baseUrl: out.redTeamProvider?.baseUrl ?? "", model: next() };
                break;
            case "--turn-timeout-ms":
                out.turnTimeoutMs = num();
                break;
            case "--lock-writers":
                out.lockWriters = num();
                break;
            default:
                throw new Error(`unknown argument ${a}`);
        }
    }
    if (out.redTeamProvider && !out.redTeamProvider.baseUrl) throw new Error("--redteam-model needs --redteam-provider-base-url");
    if (out.redTeamProvider && env[SMOKE_REDTEAM_API_KEY_ENV]) out.redTeamProvider = { ...out.redTeamProvider, apiKey: env[SMOKE_REDTEAM_API_KEY_ENV] };
    if (!out.stack === !out.outputs) throw new Error("give exactly one of --stack <name> or --outputs <file.json>");
    if (p.baseUrl) {
        if (!p.model) throw new Error(`a BYOK provider needs a model (--model or ${ENV.model})`);
        out.provider = { type: p.type ?? "openai", baseUrl: p.baseUrl, model: p.model, ...(p.apiKey ? { apiKey: p.apiKey } : {}) };
    }
    return out;
}

/** Minimal shape check so a wrong file fails with a clear message rather than deep inside a check. */
export function validateOutputs(value: unknown): FleetOutputs {
    if (!value || typeof value !== "object") throw new Error("outputs must be a JSON object");
    const o = value as Record<string, unknown>;
    if (!["kubernetes", "aci", "docker", "local"].includes(String(o.platform))) throw new Error(`outputs.platform is ${JSON.stringify(o.platform)}`);
    if (o.mode !== "shared" && o.mode !== "per-user") throw new Error(`outputs.mode is ${JSON.stringify(o.mode)}`);
    return value as FleetOutputs;
}

export function loadOutputsFile(file: string): FleetOutputs {
    return validateOutputs(JSON.parse(readFileSync(file, "utf8")));
}

export function loadStackOutputs(stack: string): Promise<FleetOutputs> {
    return new Promise((resolve, reject) => {
        execFile(
            "pulumi",
            ["stack", "output", "--json", "--show-secrets", "--stack", stack],
            { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
            (err, stdout, stderr) => {
                if (err) {
                    reject(new Error(`pulumi stack output failed: ${stderr.trim() || err.message}`));
                    return;
                }
                try {
                    resolve(validateOutputs(JSON.parse(stdout)));
                } catch (e) {
                    reject(e);
                }
            },
        );
    });
}

export async function runSmokeCli(argv: readonly string[], print: (line: string) => void = console.log): Promise<SmokeReport> {
    const args = parseSmokeArgs(argv);
    const outputs = args.stack ? await loadStackOutputs(args.stack) : loadOutputsFile(args.outputs as string);
    print(`smoke: ${outputs.platform} ${outputs.mode}${args.stack ? ` (stack ${args.stack})` : ""}`);
    const report = await runSmokeSuite(outputs, {
        provider: args.provider,
        turnTimeoutMs: args.turnTimeoutMs,
        lockWriters: args.lockWriters,
        redTeamProvider: args.redTeamProvider,
        gitHubToken: args.gitHubToken,
        onResult: (r) => print(formatResult(r)),
    });
    const failed = report.results.filter((r) => r.status === "FAIL").length;
    print(`${report.ok ? "OK" : "FAILED"}: ${report.results.length - failed}/${report.results.length} checks passed in ${report.wallMs} ms`);
    if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2) + "\n");
    return report;
}

if (require.main === module) {
    runSmokeCli(process.argv.slice(2)).then(
        (r) => process.exit(r.ok ? 0 : 1),
        (e: unknown) => {
            console.error(`smoke: ${e instanceof Error ? e.message : String(e)}`);
            process.exit(2);
        },
    );
}
