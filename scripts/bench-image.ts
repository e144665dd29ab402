/**
 * `npm run bench:image`: our image against the upstream docs' recipe, built the same way here
 * (buildah, the same debootstrap base, the same local release mirror of the npm package's binary).
 *
 * Prints: cold build time (no layer cache) and final size of each, then start-to-healthy (container
 * start until an authenticated JSON-RPC ping answers on the host, median of N runs) for ours with and
 * without the build-time unpack, and for the upstream recipe. Everything it builds is removed after.
 *
 * Env: BENCH_RUNS (default 5).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CLI_PORT, ENV, SESSION_STATE_PATH, serverArgs } from "../components/contract/server";
import {
    ContainerSession,
    RELEASE_ASSET_X64,
    buildImage,
    ensureBaseImage,
    ensureReleaseFiles,
    freePort,
    imageSize,
    pinnedCliVersion,
    podman,
    pruneBuildCache,
    startReleaseMirror,
} from "../test/helpers/containers";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TOKEN = "bench-token";

/** The recipe from the Copilot CLI docs: one stage, apt ca-certificates + wget, untar into /usr/local/bin, purge wget. */
function upstreamDockerfile(): string {
    return `ARG BASE_IMAGE=debian:bookworm-slim
FROM \${BASE_IMAGE}
ARG RELEASE_BASE_URL
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates wget \\
 && wget -qO- "\${RELEASE_BASE_URL}/${RELEASE_ASSET_X64}" | tar -xz -C /usr/local/bin \\
 && apt-get purge -y wget && apt-get autoremove -y \\
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["copilot"]
`;
}

/** One JSON-RPC connect + ping from the host; true only on the right pong. Bounded by timeoutMs. */
function pingOnce(port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect(port, "127.0.0.1");
        let buf = "";
        const done = (ok: boolean) => {
            clearTimeout(timer);
            sock.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        const frame = (o: unknown) => {
            const b = Buffer.from(JSON.stringify(o));
            return `Content-Length: ${b.length}\r\n\r\n${b.toString()}`;
        };
        sock.on("connect", () => {
            sock.write(frame({ jsonrpc: "2.0", id: 1, method: "connect", params: { token: TOKEN } }));
            sock.write(frame({ jsonrpc: "2.0", id: 2, method: "ping", params: { message: "bench" } }));
        });
        sock.on("data", (d: Buffer) => {
            buf += d.toString();
            if (buf.includes('"message":"pong: bench"')) done(true);
            else if (buf.includes('"error"')) done(false);
        });
        sock.on("error", () => done(false));
    });
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
    const session = new ContainerSession();
    const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-image-"));
    const release = await ensureReleaseFiles();
    const mirror = await startReleaseMirror({ r: { [RELEASE_ASSET_X64]: release.tarball, "SHA256SUMS.txt": Buffer.from(release.sums) } });
    try {
        const base = await ensureBaseImage();
        console.log(`base ${base.ref} (${base.built ? `built in ${sec(base.ms)}` : "cached"}, ${mb(await imageSize(base.ref))})`);
        const version = pinnedCliVersion();
        writeFileSync(path.join(tmp, "Dockerfile"), upstreamDockerfile());

        const variants = [
            { key: "ours", label: "ours (multi-stage, default)", extra: {} as Record<string, string>, upstream: false },
            { key: "ours-preunpack", label: "ours, PREUNPACK=true", extra: { PREUNPACK: "true" }, upstream: false },
            { key: "upstream", label: "upstream docs recipe", extra: {}, upstream: true },
        ];
        const rows: Array<{ label: string; buildMs: number; size: number; healthy: number[]; tag: string; upstream: boolean; key: string }> = [];
        for (const v of variants) {
            // Cold build each time: no layer cache, so apt and the download are counted for both recipes.
            await pruneBuildCache();
            const tag = session.trackImage(`localhost/${session.name(v.key)}:${version}`);
            const r = await buildImage({
                tag,
                baseImage: base.ref,
                version,
                releaseBaseUrl: mirror.url("r"),
                extraArgs: v.extra,
                layers: false,
                ...(v.upstream ? { dockerfile: path.join(tmp, "Dockerfile"), context: tmp } : {}),
            });
            if (!r.ok) throw new Error(`${v.label} build failed:\n${r.output.slice(-3000)}`);
            const size = await imageSize(tag);
            rows.push({ label: v.label, buildMs: r.ms, size, healthy: [], tag, upstream: v.upstream, key: v.key });
            console.log(`${v.label}: built in ${sec(r.ms)}, ${mb(size)}`);
        }
        // Starts interleaved across images, so page cache and neighbours' load hit all of them alike.
        for (let i = 0; i < RUNS; i++) {
            for (const row of rows) {
                const port = await freePort();
                const args = serverArgs().map((a) => (a === "0.0.0.0" ? "127.0.0.1" : a === String(CLI_PORT) ? String(port) : a));
                const volume = await session.volume(`${row.key}-${i}`);
                const t0 = Date.now();
                const id = await session.start(row.tag, {
                    name: `${row.key}-${i}`,
                    env: {
                        [ENV.connectionToken]: TOKEN,
                        [ENV.offline]: "true",
                        [ENV.providerBaseUrl]: "http://127.0.0.1:9/v1",
                        [ENV.model]: "bench",
                    },
                    volumes: [`${volume}:${SESSION_STATE_PATH}`],
                    // The upstream image's ENTRYPOINT is copilot itself (and it runs as root): pass only the flags.
                    args: row.upstream ? args.slice(1) : args,
                    // podman cannot schedule HEALTHCHECK timers here (no systemd); the probe below is ours.
                    extra: ["--no-healthcheck"],
                });
                let ok = false;
                while (Date.now() - t0 < 60_000) {
                    if (await pingOnce(port, 500)) {
                        ok = true;
                        break;
                    }
                    await new Promise((r2) => setTimeout(r2, 50));
                }
                const ms = Date.now() - t0;
                await podman(["rm", "-f", "-t", "2", id], { check: false });
                if (!ok) throw new Error(`${row.label}: not healthy within 60 s`);
                row.healthy.push(ms);
            }
        }
        for (const row of rows) console.log(`${row.label}: start-to-healthy ${row.healthy.map(sec).join(" ")}`);

        console.log(`\nCopilot CLI ${version}, base ${base.ref}, ${RUNS} starts each, ${os.cpus().length} CPUs\n`);
        const header = ["image", "cold build", "size", "start→healthy (median)", "min–max"];
        const table = rows.map((r) => [
            r.label,
            sec(r.buildMs),
            mb(r.size),
            sec(median(r.healthy)),
            `${sec(Math.min(...r.healthy))}–${sec(Math.max(...r.healthy))}`,
        ]);
        const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
        const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
        console.log(line(header));
        console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
        for (const t of table) console.log(line(t));
    } finally {
        const problems = await session.cleanup();
        await pruneBuildCache();
        await mirror.stop();
        rmSync(tmp, { recursive: true, force: true });
        if (problems.length) console.error(`cleanup problems:\n${problems.join("\n")}`);
    }
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
