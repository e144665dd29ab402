/**
 * npm run demo [-- --replicas N]: a local fleet (real CLI servers, HAProxy, Redis, stub model), the
 * smoke suite against it, then everything stopped. Exit code is the suite's result.
 */
import { formatResult, runSmokeSuite } from "./checks";
import { startLocalFleet } from "./local-fleet";

async function main(): Promise<number> {
    const i = process.argv.indexOf("--replicas");
    const replicas = i >= 0 ? Number(process.argv[i + 1]) : 3;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error("--replicas must be a positive integer");
    const t0 = Date.now();
    console.log(`demo: starting a local fleet of ${replicas} Copilot CLI servers, HAProxy, Redis and a stub model...`);
    const fleet = await startLocalFleet({ replicas, log: (l) => console.log(`  ${l}`) });
    const stopOnSignal = (): void => {
        void fleet.stop().finally(() => process.exit(130));
    };
    process.once("SIGINT", stopOnSignal);
    process.once("SIGTERM", stopOnSignal);
    try {
        console.log(`demo: fleet ready in ${Date.now() - t0} ms; running the smoke suite against ${fleet.outputs.endpoint}`);
        const report = await runSmokeSuite(fleet.outputs, { onResult: (r) => console.log(`  ${formatResult(r)}`) });
        const failed = report.results.filter((r) => r.status === "FAIL").length;
        console.log(`demo: ${report.ok ? "OK" : "FAILED"} — ${report.results.length - failed}/${report.results.length} checks passed in ${report.wallMs} ms`);
        return report.ok ? 0 : 1;
    } finally {
        await fleet.stop();
        console.log("demo: fleet stopped");
    }
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
