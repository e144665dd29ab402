import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { startRedis } from "../../../smoke/local/redis";

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe("startRedis", () => {
    it("runs a password-protected, loopback-only, non-persistent redis-server and stops it cleanly", async () => {
        const r = await startRedis();
        const c = new Redis(r.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
        const anon = new Redis({ host: "127.0.0.1", port: r.port, maxRetriesPerRequest: 0, lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null });
        anon.on("error", () => undefined);
        try {
            expect(r.url).toBe(`redis://:${r.password}@127.0.0.1:${r.port}`);
            expect(r.password.length).toBeGreaterThanOrEqual(32);
            await c.connect();
            expect(await c.ping()).toBe("PONG");
            await anon.connect();
            await expect(anon.get("k")).rejects.toThrow(/NOAUTH/);
            expect(await c.config("GET", "bind")).toEqual(["bind", "127.0.0.1"]);
            expect(await c.config("GET", "save")).toEqual(["save", ""]);
            expect(await c.config("GET", "appendonly")).toEqual(["appendonly", "no"]);
            expect(alive(r.pid)).toBe(true);
        } finally {
            c.disconnect();
            anon.disconnect();
            await r.stop();
        }
        expect(alive(r.pid)).toBe(false);
        await r.stop(); // idempotent
    });

    it("removes its own temp dir but keeps a dir it was given; honours password and port", async () => {
        const given = await mkdtemp(path.join(os.tmpdir(), "redis-given-"));
        try {
            const r = await startRedis({ dir: given, password: "pw-123" });
            expect(r.password).toBe("pw-123");
            expect((await readdir(given)).some((f) => f.endsWith(".conf"))).toBe(true);
            await r.stop();
            expect(existsSync(given)).toBe(true);
            // Same port again after a stop: the fleet's "Redis comes back" scenario.
            const again = await startRedis({ port: r.port, password: "pw-123" });
            expect(again.url).toBe(r.url);
            await again.stop();
        } finally {
            await rm(given, { recursive: true, force: true });
        }
        const before = new Set((await readdir(os.tmpdir())).filter((f) => f.startsWith("copilot-fleet-redis-")));
        const own = await startRedis();
        const created = (await readdir(os.tmpdir())).filter((f) => f.startsWith("copilot-fleet-redis-") && !before.has(f));
        expect(created).toHaveLength(1);
        await own.stop();
        expect(existsSync(path.join(os.tmpdir(), created[0] ?? "missing"))).toBe(false);
    });

    it("fails clearly on a taken port, a missing binary and an unsafe password", async () => {
        const r = await startRedis();
        try {
            await expect(startRedis({ port: r.port })).rejects.toThrow(`could not bind 127.0.0.1:${r.port}`);
        } finally {
            await r.stop();
        }
        await expect(startRedis({ binary: "/nonexistent/redis-server" })).rejects.toThrow(/ENOENT/);
        await expect(startRedis({ password: 'a"b' })).rejects.toThrow(/must not contain/);
    });
});
