/**
 * Build and run the real Copilot CLI image without a Docker engine: buildah builds, podman runs
 * (debootstrap base image, `buildah bud --isolation chroot`, podman with runc). Used by test/images/ and scripts/bench-image.ts.
 *
 * Everything lives in a storage root of its own under CACHE_DIR (default /var/tmp/copilot-fleet-test),
 * so these suites never see or disturb other users' images and containers, and cleanup can prune
 * freely. Kept between runs: the debootstrap base image (the slow part, ~40 s) and the release-mirror
 * tarball. Everything else a run creates is removed by `cleanup()`.
 *
 * Containers use the host network: podman's bridge (netavark) does not come up on this machine, and
 * host networking lets a container reach the test's stub model and release mirror on 127.0.0.1.
 * Every server a test starts therefore binds 127.0.0.1 on a free port, never 0.0.0.0.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const IMAGE_CONTEXT = path.join(REPO_ROOT, "images", "copilot-cli");
export const CACHE_DIR = process.env.COPILOT_FLEET_TEST_CACHE ?? "/var/tmp/copilot-fleet-test";
/** Bumped when the way the base is made changes, so an old cached base is not reused. */
const BASE_RECIPE_VERSION = 1;
/** A base older than this is rebuilt, so security updates arrive without anyone clearing caches. */
const BASE_MAX_AGE_DAYS = 14;

/** The CLI version the npm package pins (the image must report exactly this). */
export function pinnedCliVersion(): string {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", "@github", "copilot", "package.json"), "utf8")) as {
        version: string;
    };
    return pkg.version;
}

/** The real linux-x64 binary from npm: the only Copilot CLI this machine has (no GitHub access). */
export function cliBinaryPath(): string {
    return path.join(REPO_ROOT, "node_modules", "@github", "copilot-linux-x64", "copilot");
}

// ---------------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly ms: number;
}

export interface RunOptions {
    readonly timeoutMs?: number;
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
    /** Throw (with the output tail) unless the exit code is 0. Default true. */
    readonly check?: boolean;
}

const tail = (s: string, n = 4000): string => (s.length > n ? `…${s.slice(s.length - n)}` : s);

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            const r: RunResult = { code, stdout, stderr, ms: Date.now() - t0 };
            if (timedOut) {
                reject(new Error(`${cmd} ${args.join(" ")} timed out after ${timeoutMs} ms\n${tail(stdout + stderr)}`));
            } else if ((opts.check ?? true) && code !== 0) {
                reject(new Error(`${cmd} ${args.join(" ")} exited ${code}\n${tail(stdout + stderr)}`));
            } else {
                resolve(r);
            }
        });
    });
}

/** A free TCP port on 127.0.0.1 (the kernel picks; we release it right away for a container to bind). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// buildah / podman with our own storage and containers.conf

const STORAGE_ROOT = path.join(CACHE_DIR, "storage");
/** Run state belongs on tmpfs (podman detects reboots through it); /run is tmpfs here. */
const RUN_ROOT = path.join(existsSync("/run") ? "/run" : os.tmpdir(), "copilot-fleet-test");
const CONTAINERS_CONF = path.join(CACHE_DIR, "containers.conf");

/** What podman needs on this machine: runc, cgroupfs, and ulimits the CLI can live with. */
const CONTAINERS_CONF_TEXT = `# Written by test/helpers/containers.ts
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`;

function containerEnv(): NodeJS.ProcessEnv {
    mkdirSync(CACHE_DIR, { recursive: true });
    if (!existsSync(CONTAINERS_CONF) || readFileSync(CONTAINERS_CONF, "utf8") !== CONTAINERS_CONF_TEXT) {
        writeFileSync(CONTAINERS_CONF, CONTAINERS_CONF_TEXT);
    }
    return { ...process.env, CONTAINERS_CONF };
}

const storageFlags = (): string[] => ["--root", STORAGE_ROOT, "--runroot", RUN_ROOT, "--storage-driver", "overlay"];

export function buildah(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run("buildah", [...storageFlags(), ...args], { ...opts, env: { ...containerEnv(), ...opts.env } });
}

export function podman(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run("podman", [...storageFlags(), ...args], { ...opts, env: { ...containerEnv(), ...opts.env } });
}

/** `podman system service` on a socket of its own, over this storage: a Docker-compatible Engine API. */
export interface PodmanService {
    /** `unix:///…/podman.sock`, for DOCKER_HOST. */
    readonly dockerHost: string;
    stop(): Promise<void>;
}

/**
 * Starts podman's Docker-compatible API on this storage (so the cached base and stand-in images are
 * there). Builds through it run with chroot isolation (BUILDAH_ISOLATION), hence on the host network,
 * so a build reaches the release mirror on 127.0.0.1, as `buildImage` does; containers get podman's
 * bridge networks (netavark, aardvark-dns), like Docker's.
 */
export async function startPodmanService(dir: string): Promise<PodmanService> {
    const socket = path.join(dir, "podman.sock");
    const child = spawn("podman", [...storageFlags(), "system", "service", "--time=0", `unix://${socket}`], {
        env: { ...containerEnv(), BUILDAH_ISOLATION: "chroot" },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
            const req = http.get({ socketPath: socket, path: "/_ping", timeout: 2000 }, (res) => {
                res.resume();
                resolve(res.statusCode === 200);
            });
            req.on("error", () => resolve(false));
        });
        if (ok) break;
        if (child.exitCode !== null || Date.now() > deadline) {
            child.kill("SIGKILL");
            throw new Error(`podman system service did not answer on ${socket}: ${stderr.slice(-2000)}`);
        }
        await sleep(250);
    }
    return {
        dockerHost: `unix://${socket}`,
        stop: async () => {
            if (child.exitCode === null) child.kill("SIGTERM");
            await Promise.race([exited, sleep(10_000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
        },
    };
}

/** The command lines a human can paste to look at this storage (printed in failures and the bench). */
export function podmanCommandLine(): string {
    return `CONTAINERS_CONF=${CONTAINERS_CONF} podman ${storageFlags().join(" ")}`;
}

async function imageCreated(ref: string): Promise<Date | undefined> {
    const r = await podman(["image", "inspect", "--format", "{{.Created}}", ref], { check: false, timeoutMs: 30_000 });
    if (r.code !== 0) return undefined;
    const d = new Date(r.stdout.trim().replace(/ \+0000 UTC$/, "Z").replace(" ", "T"));
    return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

// ---------------------------------------------------------------------------------------------------
// A cross-process lock (the tests and the bench may run at once; both would build the same base)

async function withLock<T>(name: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const dir = path.join(CACHE_DIR, `${name}.lock`);
    mkdirSync(CACHE_DIR, { recursive: true });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            mkdirSync(dir);
            writeFileSync(path.join(dir, "pid"), String(process.pid));
            break;
        } catch {
            let holder = NaN;
            try {
                holder = Number(readFileSync(path.join(dir, "pid"), "utf8"));
            } catch {
                /* being created or removed: try again */
            }
            if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
                rmSync(dir, { recursive: true, force: true });
                continue;
            }
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for lock ${dir} (held by pid ${holder})`);
            await sleep(500);
        }
    }
    try {
        return await fn();
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

// ---------------------------------------------------------------------------------------------------
// The base image: debootstrap minbase bookworm, imported with buildah, cached

/** The Debian mirror apt uses on this machine (the only network the tests may use besides npm). */
export function debianMirror(): string {
    if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
    const files: string[] = [];
    if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
    if (existsSync("/etc/apt/sources.list.d")) {
        for (const f of readdirSync("/etc/apt/sources.list.d").sort()) files.push(path.join("/etc/apt/sources.list.d", f));
    }
    for (const f of files) {
        const text = readFileSync(f, "utf8");
        // deb822: "URIs: http://deb.debian.org/debian" in a stanza whose suites include bookworm.
        for (const stanza of text.split(/\n\s*\n/)) {
            const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
            const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? "";
            if (uri && /(^|\s)bookworm(\s|$)/.test(suites) && !uri.includes("security")) return uri;
        }
        // one-line: "deb http://deb.debian.org/debian bookworm main"
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
        if (m && !m[1].includes("security")) return m[1];
    }
    return "http://deb.debian.org/debian";
}

export const BASE_IMAGE_REF = `localhost/copilot-fleet-test-base:bookworm-minbase-r${BASE_RECIPE_VERSION}`;

export interface BaseImageResult {
    readonly ref: string;
    /** True when this call built it (debootstrap ran). */
    readonly built: boolean;
    readonly ms: number;
}

/**
 * A local Debian bookworm base (the Dockerfile's BASE_IMAGE stand-in: glibc, libstdc++, apt, passwd).
 * Made once with `debootstrap --variant=minbase` and reused until it is BASE_MAX_AGE_DAYS old.
 */
export async function ensureBaseImage(): Promise<BaseImageResult> {
    const t0 = Date.now();
    return withLock("base", 15 * 60_000, async () => {
        const created = await imageCreated(BASE_IMAGE_REF);
        if (created && Date.now() - created.getTime() < BASE_MAX_AGE_DAYS * 86_400_000) {
            return { ref: BASE_IMAGE_REF, built: false, ms: Date.now() - t0 };
        }
        const work = path.join(CACHE_DIR, `debootstrap-${process.pid}`);
        rmSync(work, { recursive: true, force: true });
        mkdirSync(work, { recursive: true });
        let container: string | undefined;
        try {
            const rootfs = path.join(work, "rootfs");
            await run("debootstrap", ["--variant=minbase", "bookworm", rootfs, debianMirror()], { timeoutMs: 10 * 60_000 });
            // Like the official slim image: no package lists or downloaded .debs in the base.
            for (const d of ["var/lib/apt/lists", "var/cache/apt"]) {
                const full = path.join(rootfs, d);
                for (const f of readdirSync(full)) rmSync(path.join(full, f), { recursive: true, force: true });
            }
            mkdirSync(path.join(rootfs, "var/lib/apt/lists/partial"), { recursive: true });
            container = (await buildah(["from", "scratch"])).stdout.trim();
            await buildah(["copy", container, `${rootfs}/`, "/"], { timeoutMs: 5 * 60_000 });
            await buildah([
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--cmd",
                "/bin/bash",
                "--label",
                `org.opencontainers.image.description=debootstrap --variant=minbase bookworm from ${debianMirror()}`,
                container,
            ]);
            await buildah(["commit", "--rm", container, BASE_IMAGE_REF], { timeoutMs: 5 * 60_000 });
            container = undefined;
            return { ref: BASE_IMAGE_REF, built: true, ms: Date.now() - t0 };
        } finally {
            if (container) await buildah(["rm", container], { check: false });
            rmSync(work, { recursive: true, force: true });
        }
    });
}

// ---------------------------------------------------------------------------------------------------
// A local mirror of the GitHub release layout

export const RELEASE_ASSET_X64 = "copilot-linux-x64.tar.gz";

export interface ReleaseFiles {
    readonly dir: string;
    readonly tarball: string;
    readonly sha256: string;
    /** SHA256SUMS.txt as the release publishes it: "<hex>  <asset name>" per line (sha256sum format). */
    readonly sums: string;
}

function sha256File(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const h = createHash("sha256");
        createReadStream(file)
            .on("data", (d) => h.update(d))
            .on("end", () => resolve(h.digest("hex")))
            .on("error", reject);
    });
}

/**
 * The release assets for linux-x64 made from the npm package's real binary, laid out like the real
 * release (install.sh untars straight into a bin directory: `copilot` at the top level of the
 * tarball; SHA256SUMS.txt in `sha256sum` format). Cached by the binary's hash.
 */
export async function ensureReleaseFiles(version = pinnedCliVersion()): Promise<ReleaseFiles> {
    const bin = version === pinnedCliVersion() ? cliBinaryPath() : await npmCliBinary(version);
    const binHash = await sha256File(bin);
    const dir = path.join(CACHE_DIR, "release", `${version}-${binHash.slice(0, 16)}`);
    const tarball = path.join(dir, RELEASE_ASSET_X64);
    const sumsFile = path.join(dir, "SHA256SUMS.txt");
    return withLock("release", 5 * 60_000, async () => {
        if (!existsSync(sumsFile)) {
            const stage = path.join(dir, "stage");
            rmSync(dir, { recursive: true, force: true });
            mkdirSync(stage, { recursive: true });
            const staged = path.join(stage, "copilot");
            writeFileSync(staged, readFileSync(bin), { mode: 0o755 });
            await run("tar", ["-czf", tarball, "--owner=0", "--group=0", "--numeric-owner", "-C", stage, "copilot"], { timeoutMs: 5 * 60_000 });
            rmSync(stage, { recursive: true, force: true });
            writeFileSync(sumsFile, `${await sha256File(tarball)}  ${RELEASE_ASSET_X64}\n`);
        }
        const sums = readFileSync(sumsFile, "utf8");
        return { dir, tarball, sha256: sums.split(/\s+/)[0], sums };
    });
}

/**
 * The linux-x64 binary of another CLI version, from the npm registry (`npm pack
 * @github/copilot-linux-x64@<version>`), cached: for the suites that upgrade a fleet from one version
 * to the pinned one.
 */
export async function npmCliBinary(version: string): Promise<string> {
    if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`not an exact CLI version: ${version}`);
    const dir = path.join(CACHE_DIR, "npm-cli", version);
    const bin = path.join(dir, "package", "copilot");
    return withLock("npm-cli", 5 * 60_000, async () => {
        if (existsSync(bin)) return bin;
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const packed = await run("npm", ["pack", "--silent", `@github/copilot-linux-x64@${version}`], { cwd: dir, timeoutMs: 5 * 60_000 });
        await run("tar", ["-xzf", path.join(dir, packed.stdout.trim().split("\n").pop() as string), "-C", dir], { timeoutMs: 5 * 60_000 });
        if (!existsSync(bin)) throw new Error(`npm package @github/copilot-linux-x64@${version} has no package/copilot`);
        return bin;
    });
}

/** What the mirror answers for a file name: a file on disk, bytes, or 404 (undefined). */
export type MirrorRoutes = Readonly<Record<string, string | Buffer | undefined>>;

export interface ReleaseMirror {
    /** The RELEASE_BASE_URL build arg: `http://127.0.0.1:P/<prefix>`. */
    readonly baseUrl: string;
    readonly requests: string[];
    stop(): Promise<void>;
}

/**
 * Serves release files over HTTP on 127.0.0.1 (buildah's chroot-isolated RUN steps share the host
 * network, so they reach it). Each prefix is one "release" with its own routes, so one server can
 * offer a good release and tampered ones side by side.
 */
export async function startReleaseMirror(releases: Readonly<Record<string, MirrorRoutes>>): Promise<ReleaseMirror & { url(prefix: string): string }> {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        const url = req.url ?? "/";
        requests.push(`${req.method} ${url}`);
        const m = /^\/([^/]+)\/([^/?]+)$/.exec(url);
        const body = m ? releases[m[1]]?.[m[2]] : undefined;
        if (req.method !== "GET" || body === undefined) {
            res.writeHead(404, { "content-type": "text/plain" });
            res.end("not found\n");
            return;
        }
        if (Buffer.isBuffer(body)) {
            res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
            res.end(body);
            return;
        }
        res.writeHead(200, { "content-length": statSync(body).size, "content-type": "application/octet-stream" });
        createReadStream(body).pipe(res);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    return {
        baseUrl: `http://127.0.0.1:${port}`,
        url: (prefix: string) => `http://127.0.0.1:${port}/${prefix}`,
        requests,
        stop: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

// ---------------------------------------------------------------------------------------------------
// Building the image

export interface BuildOptions {
    readonly tag: string;
    readonly baseImage: string;
    readonly version: string;
    readonly releaseBaseUrl: string;
    readonly extraArgs?: Readonly<Record<string, string>>;
    readonly dockerfile?: string;
    readonly context?: string;
    readonly timeoutMs?: number;
    /** Cache intermediate layers (default true); the benchmark turns it off to time a cold build. */
    readonly layers?: boolean;
}

export interface BuildResult extends RunResult {
    readonly ok: boolean;
    readonly output: string;
}

/** Our Dockerfile's build, exactly as a user would run it, with the test's base and mirror. */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
    const args = [
        "bud",
        "--isolation",
        "chroot",
        "--pull-never",
        // --layers keeps the tools stage cached between the suite's builds (the checksum-failure builds).
        ...(opts.layers === false ? ["--layers=false"] : ["--layers"]),
        // A failed build must not leave its working container (and the layers under it) behind.
        "--force-rm",
        // Docker format: the OCI format has no HEALTHCHECK and buildah would drop it.
        "--format",
        "docker",
        "--build-arg",
        `BASE_IMAGE=${opts.baseImage}`,
        "--build-arg",
        `COPILOT_VERSION=${opts.version}`,
        "--build-arg",
        `RELEASE_BASE_URL=${opts.releaseBaseUrl}`,
        // What docker buildx sets; buildah 1.28 does not.
        "--build-arg",
        `TARGETARCH=${process.arch === "arm64" ? "arm64" : "amd64"}`,
    ];
    for (const [k, v] of Object.entries(opts.extraArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
    args.push("-f", opts.dockerfile ?? path.join(IMAGE_CONTEXT, "Dockerfile"), "-t", opts.tag, opts.context ?? IMAGE_CONTEXT);
    const r = await buildah(args, { check: false, timeoutMs: opts.timeoutMs ?? 15 * 60_000 });
    return { ...r, ok: r.code === 0, output: r.stdout + r.stderr };
}

/** Image size in bytes as podman reports it (sum of its layers, uncompressed). */
export async function imageSize(ref: string): Promise<number> {
    const r = await podman(["image", "inspect", "--format", "{{.Size}}", ref]);
    return Number(r.stdout.trim());
}

export interface ImageConfig {
    readonly User?: string;
    readonly Entrypoint?: string[] | null;
    readonly Cmd?: string[] | null;
    readonly Env?: string[];
    readonly Labels?: Record<string, string> | null;
    readonly ExposedPorts?: Record<string, unknown> | null;
    readonly WorkingDir?: string;
    readonly Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number } | null;
}

export async function imageConfig(ref: string): Promise<ImageConfig> {
    const r = await buildah(["inspect", "--type", "image", ref]);
    const parsed = JSON.parse(r.stdout) as { Docker?: { config?: ImageConfig } };
    return parsed.Docker?.config ?? {};
}

// ---------------------------------------------------------------------------------------------------
// Running containers, tracked for cleanup

export class ContainerSession {
    private readonly containers = new Set<string>();
    private readonly volumes = new Set<string>();
    private readonly images = new Set<string>();
    readonly prefix = `cft-${process.pid}-${Date.now().toString(36)}`;

    name(what: string): string {
        return `${this.prefix}-${what}`;
    }

    /** Register an image this session built so cleanup removes it. */
    trackImage(ref: string): string {
        this.images.add(ref);
        return ref;
    }

    async volume(what: string): Promise<string> {
        const name = this.name(what);
        await podman(["volume", "create", name]);
        this.volumes.add(name);
        return name;
    }

    /** `podman run -d --network host ...`; returns the container id. */
    async start(image: string, opts: { name: string; env?: Record<string, string>; volumes?: string[]; args?: string[]; extra?: string[] }): Promise<string> {
        const args = ["run", "-d", "--network", "host", "--name", this.name(opts.name)];
        for (const [k, v] of Object.entries(opts.env ?? {})) args.push("-e", `${k}=${v}`);
        for (const v of opts.volumes ?? []) args.push("-v", v);
        args.push(...(opts.extra ?? []), image, ...(opts.args ?? []));
        const id = (await podman(args, { timeoutMs: 60_000 })).stdout.trim();
        this.containers.add(id);
        return id;
    }

    /** A one-shot `podman run --rm` (tracked by name in case it hangs). */
    async runOnce(image: string, args: readonly string[], extra: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
        const name = this.name(`once-${this.containers.size}-${Math.random().toString(36).slice(2, 7)}`);
        this.containers.add(name);
        return podman(["run", "--rm", "--network", "host", "--name", name, ...extra, image, ...args], { timeoutMs: 60_000, ...opts });
    }

    exec(id: string, args: readonly string[], opts: { env?: Record<string, string> } & RunOptions = {}): Promise<RunResult> {
        const envArgs = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
        return podman(["exec", ...envArgs, id, ...args], { timeoutMs: 30_000, check: false, ...opts });
    }

    async logs(id: string): Promise<string> {
        const r = await podman(["logs", id], { check: false, timeoutMs: 30_000 });
        return r.stdout + r.stderr;
    }

    /** Removes every container, volume and image this session made. Never throws; returns problems. */
    async cleanup(): Promise<string[]> {
        const problems: string[] = [];
        const attempt = async (what: string, args: string[]) => {
            const r = await podman(args, { check: false, timeoutMs: 120_000 }).catch((e: unknown) => ({ code: -1, stderr: String(e), stdout: "" }));
            if (r.code !== 0 && !/no such|not found|no container|no volume/i.test(r.stderr)) problems.push(`${what}: ${r.stderr.trim()}`);
        };
        for (const c of this.containers) await attempt(`rm ${c}`, ["rm", "-f", "-t", "2", c]);
        this.containers.clear();
        for (const v of this.volumes) await attempt(`volume rm ${v}`, ["volume", "rm", "-f", v]);
        this.volumes.clear();
        for (const i of this.images) await attempt(`rmi ${i}`, ["rmi", "-f", i]);
        this.images.clear();
        return problems;
    }
}

/**
 * Removes dangling build layers (the tools/fetch stages `--layers` cached) from our private storage.
 * The cached base image is tagged and so survives.
 */
export async function pruneBuildCache(): Promise<void> {
    // Each pass frees the layers whose children the previous pass removed; bounded.
    for (let i = 0; i < 5; i++) {
        const r = await buildah(["rmi", "--prune"], { check: false, timeoutMs: 300_000 });
        if (r.code !== 0 || r.stdout.trim() === "") return;
    }
}

/** Polls `check` until it resolves true; returns elapsed ms, or throws with `describe()` at the deadline. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs: number, describe: () => Promise<string> | string): Promise<number> {
    const t0 = Date.now();
    for (;;) {
        if (await check()) return Date.now() - t0;
        if (Date.now() - t0 > timeoutMs) throw new Error(`not ready after ${timeoutMs} ms: ${await describe()}`);
        await sleep(intervalMs);
    }
}
