/**
 * A Docker engine for the dev stack on a machine that has none and cannot reach Docker Hub or GitHub
 * releases (this project's CI machines): podman's Docker-compatible API over the tests' podman
 * storage, with the Debian base and the Redis, HAProxy and Node.js stand-ins built from Debian's
 * packages (test/helpers/standins.ts), a mirror of the CLI release made from the npm binary, and the
 * stub model where the containers reach it. The same pieces test/engine/docker.test.ts runs on.
 *
 *   npm run engine:docker-env -- [--out FILE]     # foreground; Ctrl-C stops everything
 *
 * It writes FILE (default .tmp/docker-engine.env, mode 0600): the DOCKER_HOST to export and the
 * stack config to set (`imageBaseImage`, `imageReleaseBaseUrl`, a BYOK `provider` on the stub), then
 * waits. While it runs, `source FILE` and `pulumi up` the dev stack, and `npm run smoke -- --stack
 * dev --redteam-provider-base-url "$COPILOT_FLEET_STUB_URL"`. It holds the Docker engine suites' lock,
 * so the suite does not run beside it (their stacks use the same fixed container names).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pinnedCliVersion, REPO_ROOT } from "../test/helpers/containers";
import { startDockerEngineFixture } from "../test/helpers/dockerEngine";

async function main(): Promise<void> {
    const i = process.argv.indexOf("--out");
    const out = i > 0 ? path.resolve(process.argv[i + 1]) : path.join(REPO_ROOT, ".tmp", "docker-engine.env");
    const fx = await startDockerEngineFixture();
    const version = pinnedCliVersion();
    const provider = JSON.stringify({ type: "openai", baseUrl: fx.providerBaseUrl, model: fx.stub.model, apiKey: fx.apiKey });
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(
        out,
        [
            "# Written by scripts/local-docker-engine.ts; valid while it runs. Holds the stub model's key: keep it private.",
            `export DOCKER_HOST=${q(fx.service.dockerHost)}`,
            `export COPILOT_FLEET_STUB_URL=${q(fx.providerBaseUrl)}`,
            `export SMOKE_REDTEAM_PROVIDER_API_KEY=${q(fx.apiKey)}`,
            "# In a stack of this project (e.g. `pulumi stack init dev`), once:",
            `#   pulumi config set cliVersion ${version}`,
            `#   pulumi config set imageBaseImage ${fx.baseImage}`,
            `#   pulumi config set imageReleaseBaseUrl ${fx.releaseUrl(version)}`,
            '#   pulumi config set --secret provider "$COPILOT_FLEET_PROVIDER"',
            `export COPILOT_FLEET_PROVIDER=${q(provider)}`,
            "",
        ].join("\n"),
        { mode: 0o600 },
    );
    console.log(`docker engine: ${fx.service.dockerHost}; settings in ${out} (source it). Ctrl-C stops everything.`);
    const stop = () => {
        void fx.stop().then(() => process.exit(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    await new Promise(() => undefined);
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
