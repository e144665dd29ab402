/** The platform-neutral cleanup definition (components/contract/server.ts): schedule, arguments, probes, refusals. */
import { describe, expect, it } from "vitest";
import { ENV, HEALTHCHECK_PATH, SECRET_KEYS, SESSION_STATE_PATH } from "../../../components/contract/server";
import { buildCleanupSpec, CLEANUP_PATH, CLEANUP_RESOURCES, cleanupSchedule, isCleanupInterval, splitEndpoint } from "../../../components/contract/cleanup";

describe("cleanupSchedule", () => {
    it.each([
        [5, "*/5 * * * *"],
        [15, "*/15 * * * *"],
        [30, "*/30 * * * *"],
        [60, "7 * * * *"],
        [120, "7 */2 * * *"],
        [720, "7 */12 * * *"],
        [1440, "7 0 * * *"],
    ])("%i minutes → %s", (m, cron) => {
        expect(cleanupSchedule(m)).toBe(cron);
    });

    it("accepts exactly the intervals a cron line fires at evenly", () => {
        const ok = Array.from({ length: 1500 }, (_, i) => i).filter(isCleanupInterval);
        expect(ok).toEqual([5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440]);
        expect(() => cleanupSchedule(90)).toThrow(/cleanup interval 90 min cannot be a cron schedule/);
    });
});

describe("buildCleanupSpec", () => {
    it("once: the tool, endpoint, TTL and state dir; the token only from the secret", () => {
        const s = buildCleanupSpec({ endpoint: "copilot:4321", ttlHours: 48, mode: "once" });
        expect(s.args).toEqual([CLEANUP_PATH, "--endpoint", "copilot:4321", "--ttl-hours", "48", "--state-dir", SESSION_STATE_PATH, "--timeout-ms", "30000"]);
        expect(s.env).toEqual([]);
        expect(s.secretEnv).toEqual([{ name: ENV.connectionToken, secretKey: SECRET_KEYS.connectionToken }]);
        expect(s.resources).toEqual(CLEANUP_RESOURCES);
        expect(s.schedule).toBe("7 * * * *");
        expect(s.runDeadlineSeconds).toBe(1800);
        expect(s.readinessProbe.exec).toEqual([HEALTHCHECK_PATH, "--host", "copilot", "--port", "4321"]);
    });

    it("loop: sleeps the interval in seconds; dry run and resource overrides pass through", () => {
        const s = buildCleanupSpec({ endpoint: "[::1]:4321", ttlHours: 1, mode: "loop", intervalMinutes: 10, dryRun: true, resources: { memoryLimit: "128Mi" } });
        expect(s.args.slice(-3)).toEqual(["--interval", "600", "--dry-run"]);
        expect(s.resources.memoryLimit).toBe("128Mi");
        expect(s.livenessProbe.exec).toEqual([HEALTHCHECK_PATH, "--host", "::1", "--port", "4321"]);
        expect(s.runDeadlineSeconds).toBe(300);
    });

    it("refuses an endpoint that is not host:port", () => {
        expect(() => splitEndpoint("copilot")).toThrow('cleanup endpoint must be host:port, got "copilot"');
        expect(() => splitEndpoint("copilot:0")).toThrow(/host:port/);
        expect(() => buildCleanupSpec({ endpoint: "a b:1", ttlHours: 1, mode: "once" })).toThrow(/host:port/);
    });
});
