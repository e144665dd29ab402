/**
 * Real `pulumi preview` wall time for a per-user Kubernetes stack (issue 12): the engine, the Node.js
 * language host and the kubernetes plugin (scripts/pulumi-engine.sh, or a `pulumi` on PATH), with the
 * program (index.ts) and the users of `npm run bench:users` (every 10th suspended, every 7th with a
 * token of their own). Each size is a fresh stack on its own file backend; the preview plans creating
 * every resource.
 *
 *   npm run bench:preview                          # 100 and 1,000 users, no cluster
 *   npm run bench:preview -- 10 100                # other sizes
 *   npm run bench:preview -- --kubeconfig FILE     # against a cluster (scripts/kube-local.sh start writes one)
 *   npm run bench:preview -- --json                # one JSON line per size
 *
 * "No cluster": KUBECONFIG names a kubeconfig whose server refuses connections (127.0.0.1:9), so
 * the plugin previews offline, as it does for a cluster that cannot be reached. Against a cluster
 * the plugin asks the API server to dry-run each object (server-side apply), one request per object.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { changeSummary, EngineStack } from "../test/helpers/engine";
import { benchUsers } from "./bench-users";

interface Result {
    readonly users: number;
    readonly cluster: "none" | "kubeconfig";
    readonly previewMs: number;
    readonly planned: number;
    readonly loadAverage: number;
}

const UNREACHABLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`;

async function previewOnce(users: number, kubeconfig: string | undefined): Promise<Result> {
    const scratch = mkdtempSync(path.join(os.tmpdir(), "cf-bench-preview-"));
    let file = kubeconfig;
    if (!file) {
        file = path.join(scratch, "kubeconfig");
        writeFileSync(file, UNREACHABLE_KUBECONFIG, { mode: 0o600 });
    }
    const s = new EngineStack({
        stack: `bench-preview-${users}`,
        config: {
            "copilot-fleet:platform": "kubernetes",
            "copilot-fleet:mode": "per-user",
            "copilot-fleet:image": "registry.example.com/copilot-cli:1.0.102",
            "copilot-fleet:namespace": "bench-preview",
        },
        secrets: { "copilot-fleet:githubToken": "gho_service", "copilot-fleet:users": benchUsers(users) },
        env: { KUBECONFIG: file },
    });
    try {
        await s.create();
        const loadAverage = os.loadavg()[0];
        const r = await s.pulumi(["preview"], { timeoutMs: 60 * 60_000 });
        const planned = changeSummary(r.stdout).create ?? 0;
        return { users, cluster: kubeconfig ? "kubeconfig" : "none", previewMs: r.ms, planned, loadAverage };
    } finally {
        s.remove();
        rmSync(scratch, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const json = args.includes("--json");
    const k = args.indexOf("--kubeconfig");
    const kubeconfig = k >= 0 ? path.resolve(args[k + 1] ?? "") : undefined;
    if (k >= 0 && !args[k + 1]) throw new Error("--kubeconfig needs a file");
    const sizes = args.filter((a, i) => /^\d+$/.test(a) && (k < 0 || i !== k + 1)).map(Number);
    for (const n of sizes.length > 0 ? sizes : [100, 1000]) {
        const r = await previewOnce(n, kubeconfig);
        if (json) console.log(JSON.stringify(r));
        else
            console.log(
                `${String(r.users).padStart(5)} users: pulumi preview ${(r.previewMs / 1000).toFixed(1)} s, ${r.planned} resources planned, ` +
                    `cluster: ${r.cluster}, load average at start ${r.loadAverage.toFixed(1)} (${os.cpus().length} cores)`,
            );
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
