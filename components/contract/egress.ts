/**
 * Where a CLI server may connect to, platform-neutral. A prompt-injected agent runs its tools as the
 * server's user, so the server's network reach is part of the blast radius: servers get DNS and the
 * public internet on the ports they need, never link-local (cloud metadata, including the managed
 * identity's token endpoint), private ranges or the cluster, except ranges the stack lists in
 * `egressAllowedCidrs` and the endpoints its own config names (a BYOK provider, a telemetry collector).
 *
 * Each platform renders {@link EgressPlan}: Kubernetes as NetworkPolicy egress rules, ACI as NSG
 * outbound rules. Docker has no egress filter (docs/security.md "Egress"). Provider-free, so the policy pack
 * uses the same ranges and CIDR arithmetic (./cidr.ts).
 */
import { cidrContains, hostCidr, insideAny, parseAddress, parseCidr } from "./cidr";

/** Ports every server needs on the public internet: HTTPS only (GitHub, Copilot's model API, the usual BYOK providers). */
export const PUBLIC_EGRESS_PORTS: readonly number[] = [443];

/** Link-local: cloud metadata (169.254.169.254 on AWS, Azure and GCP), Azure's IMDS token endpoint, NodeLocal DNS. */
export const LINK_LOCAL_RANGES: readonly string[] = ["169.254.0.0/16", "fe80::/10"];
/** Private, carrier-grade NAT and loopback ranges: the cluster, the VNet/VPC, peered and on-premises networks. */
export const PRIVATE_RANGES: readonly string[] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "fc00::/7", "::1/128"];
/** Everything a server must not reach unless allowed: {@link PRIVATE_RANGES} and {@link LINK_LOCAL_RANGES}. */
export const NON_PUBLIC_RANGES: readonly string[] = [...PRIVATE_RANGES, ...LINK_LOCAL_RANGES];
/** Instance-metadata addresses no allowance may include (a token endpoint for whatever identity the node or group holds). */
export const METADATA_ADDRESSES: readonly string[] = ["169.254.169.254", "fd00:ec2::254"];

/**
 * Why a range may not be an egress allowance, or undefined when it may: `/0` reopens everything,
 * and nothing that includes an instance-metadata address is ever allowed.
 */
export function egressAllowanceProblem(cidr: string): string | undefined {
    const c = parseCidr(cidr);
    if (c === undefined) return "is not a CIDR";
    if (c.prefix === 0) return "allows every address, which would reopen the cluster, private networks and cloud metadata; list the private ranges the servers must reach instead";
    for (const m of METADATA_ADDRESSES) {
        const a = parseAddress(m);
        if (a !== undefined && cidrContains(c, a)) return `includes the instance-metadata address ${m}, which hands out the node's or group's identity tokens`;
    }
    return undefined;
}

/** An endpoint of the stack's own config (BYOK `provider.baseUrl`, `telemetry.otlpEndpoint`) the servers must reach. */
export interface EgressEndpoint {
    /** `provider.baseUrl`, `telemetry.otlpEndpoint`: named in comments and tests. */
    readonly source: string;
    readonly url: string;
}

/** What an endpoint means for the egress rules. */
export type EndpointAllowance =
    /** An IP literal in a private range: that one address, that one port. */
    | { readonly kind: "private-address"; readonly cidr: string; readonly port: number; readonly source: string }
    /**
     * A Kubernetes Service name (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`): pods of that namespace
     * (unset: the fleet's own) on that port. Only Kubernetes renders it.
     */
    | { readonly kind: "cluster-service"; readonly namespace?: string; readonly port: number; readonly source: string }
    /** A public host (IP literal or DNS name) on a port other than the public ones: the public internet on that port. */
    | { readonly kind: "public-port"; readonly port: number; readonly source: string };

/**
 * The allowances an endpoint needs, derived from its URL alone (nothing is resolved: a DNS answer at
 * deploy time is not the address at run time).
 *
 * Private IP literals are allowed automatically, as a single address and port: the stack already
 * named that endpoint as the place its servers must reach, so the narrowest rule that keeps the
 * configured deployment working is the least surprising one, and it shows in every preview. A DNS
 * name that resolves to a private address cannot be derived: list its range in `egressAllowedCidrs`.
 * Kubernetes Service names get a rule to their namespace's pods on that port, because NetworkPolicy
 * sees the pod address after the Service's DNAT, never the ClusterIP. A two-label name (`svc.ns`)
 * could also be a public host (`example.com`), so it gets the public rule on that port as well.
 */
export function endpointAllowances(e: EgressEndpoint): EndpointAllowance[] {
    let url: URL;
    try {
        url = new URL(e.url);
    } catch {
        return [];
    }
    const port = url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const publicPort = PUBLIC_EGRESS_PORTS.includes(port) ? [] : [{ kind: "public-port" as const, port, source: e.source }];
    const literal = hostCidr(host);
    if (literal !== undefined) {
        return insideAny(literal, NON_PUBLIC_RANGES)
            ? egressAllowanceProblem(literal) === undefined
                ? [{ kind: "private-address", cidr: literal, port, source: e.source }]
                : []
            : publicPort;
    }
    const labels = host.toLowerCase().split(".");
    if (labels.length === 1) return [{ kind: "cluster-service", port, source: e.source }];
    const svc = labels.indexOf("svc");
    if (svc === 2 && (labels.length === 3 || labels.length >= 5)) return [{ kind: "cluster-service", namespace: labels[1], port, source: e.source }];
    if (labels.length === 2) return [{ kind: "cluster-service", namespace: labels[1], port, source: e.source }, ...publicPort];
    return publicPort;
}

/** What a platform renders: the user's ranges (all ports), the derived allowances, the public ports. */
export interface EgressPlan {
    /** `egressAllowedCidrs`: private ranges the servers may reach on any port. */
    readonly allowedCidrs: readonly string[];
    readonly endpoints: readonly EndpointAllowance[];
    /** Public-internet TCP ports: {@link PUBLIC_EGRESS_PORTS} plus the endpoints' own. */
    readonly publicPorts: readonly number[];
}

/** The plan for a stack: its `egressAllowedCidrs` and the endpoints its config names. */
export function egressPlan(allowedCidrs: readonly string[], endpoints: readonly EgressEndpoint[]): EgressPlan {
    const derived = endpoints.flatMap(endpointAllowances);
    const publicPorts = [...new Set([...PUBLIC_EGRESS_PORTS, ...derived.filter((d) => d.kind === "public-port").map((d) => d.port)])];
    return { allowedCidrs: [...allowedCidrs], endpoints: derived.filter((d) => d.kind !== "public-port"), publicPorts };
}

/** The endpoints a fleet's config names: the BYOK provider's base URL and the telemetry collector. */
export function configEndpoints(cfg: { credential: { kind: string; provider?: { baseUrl: string } }; telemetry?: { otlpEndpoint: string } }): EgressEndpoint[] {
    const out: EgressEndpoint[] = [];
    if (cfg.credential.kind === "provider" && cfg.credential.provider) out.push({ source: "provider.baseUrl", url: cfg.credential.provider.baseUrl });
    if (cfg.telemetry) out.push({ source: "telemetry.otlpEndpoint", url: cfg.telemetry.otlpEndpoint });
    return out;
}
