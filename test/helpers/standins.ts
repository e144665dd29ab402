/**
 * Local stand-ins for the two public images the Docker platform pulls (`redis:7.4.2-bookworm`,
 * `haproxy:2.8.10`), for machines that reach Debian's packages but not Docker Hub. Each is built from
 * the test base image with Debian's own package and tagged with the exact reference the program
 * pins, so the Docker provider finds it locally and never pulls. They keep what the program relies
 * on in the official images: the `redis` user as uid/gid 999 with /data and /usr/local/etc/redis,
 * redis-server and redis-cli on PATH; haproxy reading /usr/local/etc/haproxy/haproxy.cfg as uid 99,
 * stopped by SIGUSR1; /bin/sh is dash, as in the official bookworm images.
 *
 * The versions are Debian bookworm's (Redis 7.0, HAProxy 2.6), not the pinned upstream ones: the label
 * says so, and the local fleet's suites run the same Debian builds on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HAPROXY_CONFIG_PATH, HAPROXY_IMAGE } from "../../components/contract/haproxy";
import { REDIS_IMAGE, REDIS_UID } from "../../components/contract/redis";
import { REDIS_CONF_PATH } from "../../components/docker/redis";
import { buildah, ensureBaseImage, podman } from "./containers";

/** Bump when a recipe below changes: the cached stand-ins are rebuilt. */
const RECIPE_VERSION = "1";
const LABEL = "org.copilot-fleet.test-stand-in";

/** The fully qualified reference podman stores a Docker Hub short name under. */
export function dockerHubReference(ref: string): string {
    const first = ref.split("/")[0];
    if (ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) return ref;
    return `docker.io/${ref.includes("/") ? "" : "library/"}${ref}`;
}

function recipes(base: string): Record<string, string> {
    const apt = (pkgs: string) => `apt-get update && apt-get install -y --no-install-recommends ${pkgs} && rm -rf /var/lib/apt/lists/*`;
    return {
        [REDIS_IMAGE]: [
            `FROM ${base}`,
            `RUN groupadd -r -g ${REDIS_UID} redis && useradd -r -g redis -u ${REDIS_UID} -d /data -s /usr/sbin/nologin redis \\`,
            ` && ${apt("redis-server redis-tools")} \\`,
            ` && mkdir -p /data ${path.posix.dirname(REDIS_CONF_PATH)} && chown redis:redis /data`,
            "WORKDIR /data",
            'CMD ["redis-server"]',
            `LABEL ${LABEL}="${RECIPE_VERSION}" org.opencontainers.image.description="test stand-in for ${REDIS_IMAGE}: Debian bookworm's redis-server"`,
        ].join("\n"),
        [HAPROXY_IMAGE]: [
            `FROM ${base}`,
            `RUN ${apt("haproxy")} && mkdir -p ${path.posix.dirname(HAPROXY_CONFIG_PATH)}`,
            "STOPSIGNAL SIGUSR1",
            "USER 99:99",
            `CMD ["/usr/sbin/haproxy", "-W", "-db", "-f", "${HAPROXY_CONFIG_PATH}"]`,
            `LABEL ${LABEL}="${RECIPE_VERSION}" org.opencontainers.image.description="test stand-in for ${HAPROXY_IMAGE}: Debian bookworm's haproxy"`,
        ].join("\n"),
    };
}

async function current(ref: string): Promise<boolean> {
    const r = await podman(["image", "inspect", "--format", `{{index .Labels "${LABEL}"}}`, ref], { check: false, timeoutMs: 30_000 });
    return r.code === 0 && r.stdout.trim() === RECIPE_VERSION;
}

/** Builds (or reuses) the stand-ins in the test storage; returns the references as podman stores them. */
export async function ensureStandInImages(): Promise<string[]> {
    const base = (await ensureBaseImage()).ref;
    const refs: string[] = [];
    for (const [ref, containerfile] of Object.entries(recipes(base))) {
        const full = dockerHubReference(ref);
        refs.push(full);
        if (await current(full)) continue;
        const dir = mkdtempSync(path.join(os.tmpdir(), "cf-standin-"));
        try {
            writeFileSync(path.join(dir, "Containerfile"), `${containerfile}\n`);
            await buildah(["bud", "--isolation", "chroot", "--pull-never", "--format", "docker", "--layers=false", "-f", path.join(dir, "Containerfile"), "-t", full, dir], {
                timeoutMs: 10 * 60_000,
            });
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }
    return refs;
}
