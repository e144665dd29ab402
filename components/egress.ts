/**
 * Where a CLI server may connect to, platform-neutral. A prompt-injected agent runs its tools as the
 * server's user, so the server's network reach is part of the blast radius: servers get DNS and the
 * public internet on the ports they need, never link-local (cloud metadata, including the managed
 * identity's token endpoint), private ranges or the cluster, except ranges the stack lists in
 * `egressAllowedCidrs` and the endpoints its own config names (a BYOK provider, a telemetry collector).
 *
 * Each platform renders {@link EgressPlan}: Kubernetes as NetworkPolicy egress rules, ACI as NSG
 * outbound rules. Docker has no egress filter (README "Egress"). Provider-free, so the policy pack
 * uses the same ranges and CIDR arithmetic.
 */

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

export interface Cidr {
    readonly version: 4 | 6;
    /** Network address as an integer (host bits cleared). */
    readonly base: bigint;
    readonly prefix: number;
}

function parseV4(addr: string): bigint | undefined {
    const parts = addr.split(".");
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reduce((a, p) => a * 256n + BigInt(p), 0n);
}

function parseV6(addr: string): bigint | undefined {
    if (!/^[0-9a-fA-F:.]+$/.test(addr) || addr.includes(":::")) return undefined;
    const halves = addr.split("::");
    if (halves.length > 2) return undefined;
    const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const words: bigint[] = [];
    const push = (list: string[], out: bigint[]): boolean => {
        for (let i = 0; i < list.length; i++) {
            const g = list[i];
            if (g.includes(".")) {
                // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two words.
                const v4 = i === list.length - 1 ? parseV4(g) : undefined;
                if (v4 === undefined) return false;
                out.push(v4 >> 16n, v4 & 0xffffn);
            } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
                out.push(BigInt(parseInt(g, 16)));
            } else {
                return false;
            }
        }
        return true;
    };
    const headWords: bigint[] = [];
    const tailWords: bigint[] = [];
    if (!push(head, headWords) || !push(tail, tailWords)) return undefined;
    const missing = 8 - headWords.length - tailWords.length;
    if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
    words.push(...headWords, ...Array<bigint>(missing).fill(0n), ...tailWords);
    return words.reduce((a, w) => (a << 16n) | w, 0n);
}

/** An address (`10.1.2.3`, `2001:db8::1`) as a host CIDR, or undefined when it is not an IP literal. */
export function parseAddress(addr: string): Cidr | undefined {
    const v4 = parseV4(addr);
    if (v4 !== undefined) return { version: 4, base: v4, prefix: 32 };
    const v6 = parseV6(addr.replace(/^\[(.*)\]$/, "$1"));
    return v6 === undefined ? undefined : { version: 6, base: v6, prefix: 128 };
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) with its host bits cleared, or undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
    if (!m) return undefined;
    const addr = parseAddress(m[1]);
    const prefix = Number(m[2]);
    if (addr === undefined || prefix > (addr.version === 4 ? 32 : 128)) return undefined;
    const bits = BigInt((addr.version === 4 ? 32 : 128) - prefix);
    return { version: addr.version, base: (addr.base >> bits) << bits, prefix };
}

function width(c: Cidr): number {
    return c.version === 4 ? 32 : 128;
}

/** `outer` contains every address of `inner`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
    if (outer.version !== inner.version || outer.prefix > inner.prefix) return false;
    const bits = BigInt(width(outer) - outer.prefix);
    return inner.base >> bits === outer.base >> bits;
}

/** The two ranges share an address (prefix-aligned ranges either nest or are disjoint). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
    return cidrContains(a, b) || cidrContains(b, a);
}

/** `addr/32` or `addr/128` for an IP literal. */
export function hostCidr(addr: string): string | undefined {
    const c = parseAddress(addr);
    if (c === undefined) return undefined;
    return `${addr.replace(/^\[(.*)\]$/, "$1")}/${c.prefix}`;
}

/** True when `cidr` is inside one of `ranges` (all given as text). */
export function insideAny(cidr: string, ranges: readonly string[]): boolean {
    const c = parseCidr(cidr);
    return c !== undefined && ranges.some((r) => {
        const outer = parseCidr(r);
        return outer !== undefined && cidrContains(outer, c);
    });
}

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
