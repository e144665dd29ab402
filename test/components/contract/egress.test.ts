/** The platform-neutral egress plan: CIDR arithmetic, allowance checks, endpoints derived from config. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseFleetConfig } from "../../../components/config";
import { egressAllowanceProblem, egressPlan, endpointAllowances } from "../../../components/contract/egress";
import { cidrContains, cidrOverlaps, parseAddress, parseCidr } from "../../../components/contract/cidr";

describe("CIDR arithmetic", () => {
    it.each([
        ["10.0.0.0/8", "10.1.2.3", true],
        ["10.0.0.0/8", "11.0.0.1", false],
        ["169.254.0.0/16", "169.254.169.254", true],
        ["fe80::/10", "fe80::1", true],
        ["fc00::/7", "fd00:ec2::254", true],
        ["fc00::/7", "2001:db8::1", false],
        ["::/0", "10.0.0.1", false],
        ["0.0.0.0/0", "::1", false],
        ["::ffff:0:0/96", "::ffff:10.0.0.1", true],
    ] as const)("%s contains %s: %s", (range, addr, expected) => {
        expect(cidrContains(parseCidr(range)!, parseAddress(addr)!)).toBe(expected);
    });

    it("clears host bits and rejects what is not a CIDR", () => {
        expect(parseCidr("10.1.2.3/8")).toEqual({ version: 4, base: 10n << 24n, prefix: 8 });
        for (const bad of ["10.0.0.0", "10.0.0.0/33", "::/129", "1.2.3/8", "fe80:::/10", "x/1"]) expect(parseCidr(bad), bad).toBeUndefined();
        expect(cidrOverlaps(parseCidr("10.0.0.0/8")!, parseCidr("10.20.0.0/24")!)).toBe(true);
        expect(cidrOverlaps(parseCidr("10.0.0.0/8")!, parseCidr("172.16.0.0/12")!)).toBe(false);
    });
});

describe("egress allowances", () => {
    it.each([
        ["10.20.0.0/24", undefined],
        ["169.254.20.10/32", undefined],
        ["0.0.0.0/0", /allows every address/],
        ["::/0", /allows every address/],
        ["169.254.0.0/16", /169\.254\.169\.254/],
        ["169.254.169.254/32", /169\.254\.169\.254/],
        ["fd00::/8", /fd00:ec2::254/],
    ] as const)("%s", (cidr, problem) => {
        const p = egressAllowanceProblem(cidr);
        if (problem === undefined) expect(p).toBeUndefined();
        else expect(p).toMatch(problem);
    });

    it("the config key names the key, the value and what is accepted, and is refused on Docker", () => {
        const base = { githubToken: "gho_x", image: "r/c:1.0.102" };
        const issues = (raw: Record<string, string>) => {
            try {
                parseFleetConfig({ platform: "kubernetes", ...base, ...raw });
                return [];
            } catch (e) {
                return (e as ConfigError).issues.map((i) => i.message);
            }
        };
        expect(issues({ egressAllowedCidrs: '["10.20.0.0/24"]' })).toEqual([]);
        expect(issues({ egressAllowedCidrs: '["10.0.0.0/33"]' })).toEqual([
            'egressAllowedCidrs: "10.0.0.0/33" is not a CIDR; use the private ranges the servers must reach, like "10.20.0.0/24" (a private model endpoint) or "fd00:1::/64"',
        ]);
        expect(issues({ egressAllowedCidrs: '["169.254.0.0/16"]' })[0]).toMatch(/^egressAllowedCidrs: "169\.254\.0\.0\/16" includes the instance-metadata address 169\.254\.169\.254/);
        expect(issues({ egressAllowedCidrs: '"10.0.0.0/8"' })).toEqual(['egressAllowedCidrs: "\\"10.0.0.0/8\\"" is not a list of strings']);
        expect(issues({ platform: "docker", egressAllowedCidrs: '["10.20.0.0/24"]' })).toEqual([
            'egressAllowedCidrs: is set, but platform "docker" cannot restrict egress (containers reach every address the host routes to; see docs/security.md "Egress"); remove the key',
        ]);
        expect(parseFleetConfig({ platform: "kubernetes", ...base }).egressAllowedCidrs).toEqual([]);
    });
});

describe("endpoints the config names", () => {
    const of = (url: string) => endpointAllowances({ source: "s", url });
    it.each([
        ["https://example.openai.azure.com/openai/v1", []],
        ["http://10.30.0.5:8000/v1", [{ kind: "private-address", cidr: "10.30.0.5/32", port: 8000, source: "s" }]],
        ["http://[fd00:1::5]:8000", [{ kind: "private-address", cidr: "fd00:1::5/128", port: 8000, source: "s" }]],
        ["https://10.30.0.5", [{ kind: "private-address", cidr: "10.30.0.5/32", port: 443, source: "s" }]],
        ["http://169.254.169.254/latest", []],
        ["http://otel-collector.monitoring:4318", [{ kind: "cluster-service", namespace: "monitoring", port: 4318, source: "s" }, { kind: "public-port", port: 4318, source: "s" }]],
        ["http://otel-collector.monitoring.svc.cluster.local:4318", [{ kind: "cluster-service", namespace: "monitoring", port: 4318, source: "s" }]],
        ["http://otel-collector.monitoring.svc:4318", [{ kind: "cluster-service", namespace: "monitoring", port: 4318, source: "s" }]],
        ["http://otel-collector:4318", [{ kind: "cluster-service", port: 4318, source: "s" }]],
        ["https://otlp.example.com:4318", [{ kind: "public-port", port: 4318, source: "s" }]],
        ["http://203.0.113.9:8080", [{ kind: "public-port", port: 8080, source: "s" }]],
        ["http://llm.internal.example.com", [{ kind: "public-port", port: 80, source: "s" }]],
    ] as const)("%s", (url, expected) => {
        expect(of(url)).toEqual(expected);
    });

    it("the plan adds public ports once and keeps the user's ranges as given", () => {
        const plan = egressPlan(["10.20.0.0/24"], [
            { source: "a", url: "https://otlp.example.com:4318" },
            { source: "b", url: "https://other.example.com:4318" },
        ]);
        expect(plan).toEqual({ allowedCidrs: ["10.20.0.0/24"], endpoints: [], publicPorts: [443, 4318] });
    });
});
