import { describe, expect, it } from "vitest";
import { buildServerSpec, CLI_PORT, COPILOT_HOME, HEALTHCHECK_PATH, SESSION_STATE_PATH, serverArgs } from "../../../components/contract/server";

describe("CLI server spec", () => {
    it("runs the headless server on all interfaces, without auto-update", () => {
        expect(serverArgs()).toEqual(["copilot-fleet-server", "copilot", "--headless", "--host", "0.0.0.0", "--port", "4321", "--no-auto-update"]);
        expect(serverArgs({ sessionIdleTimeoutSeconds: 600 }).slice(-2)).toEqual(["--session-idle-timeout", "600"]);
    });

    it("keeps shared storage to the session-state folder under COPILOT_HOME", () => {
        const spec = buildServerSpec({ credential: { kind: "githubToken" } });
        expect(spec.sessionStatePath).toBe(`${COPILOT_HOME}/session-state`);
        expect(SESSION_STATE_PATH.startsWith(spec.copilotHome + "/")).toBe(true);
        expect(spec.env).toContainEqual({ name: "COPILOT_HOME", value: COPILOT_HOME });
        expect(spec.port).toBe(CLI_PORT);
    });

    it("passes tokens only by secret reference", () => {
        const gh = buildServerSpec({ credential: { kind: "githubToken" } });
        expect(gh.secretEnv).toEqual([
            { name: "COPILOT_CONNECTION_TOKEN", secretKey: "connection-token" },
            { name: "COPILOT_GITHUB_TOKEN", secretKey: "github-token" },
        ]);
        expect(gh.env.map((e) => e.name)).not.toContain("COPILOT_CONNECTION_TOKEN");
        const byok = buildServerSpec({ credential: { kind: "provider" } });
        expect(byok.secretEnv).toEqual([{ name: "COPILOT_CONNECTION_TOKEN", secretKey: "connection-token" }]);
    });

    it("probes with the authenticated JSON-RPC health check, slower to kill than to unready", () => {
        const spec = buildServerSpec({ credential: { kind: "provider" } });
        for (const p of [spec.startupProbe, spec.readinessProbe, spec.livenessProbe]) expect(p.exec).toEqual([HEALTHCHECK_PATH]);
        const window = (p: { periodSeconds: number; failureThreshold: number }) => p.periodSeconds * p.failureThreshold;
        expect(window(spec.livenessProbe)).toBeGreaterThan(window(spec.readinessProbe));
        expect(window(spec.startupProbe)).toBeGreaterThanOrEqual(60);
    });

    it("merges resource overrides over the measured defaults", () => {
        const spec = buildServerSpec({ credential: { kind: "provider" }, resources: { memoryLimit: "4Gi" } });
        expect(spec.resources).toEqual({ cpuRequest: "250m", cpuLimit: "2", memoryRequest: "512Mi", memoryLimit: "4Gi" });
    });

    it("refuses a shutdown budget that leaves no time after the drain", () => {
        expect(() => buildServerSpec({ credential: { kind: "provider" }, drainSeconds: 30, terminationGraceSeconds: 30 })).toThrow(
            "terminationGraceSeconds (30) must be greater than drainSeconds (30): the server needs time after the drain to finish in-flight turns",
        );
    });
});
