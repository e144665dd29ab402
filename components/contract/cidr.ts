/**
 * IPv4 and IPv6 address and CIDR arithmetic, provider-free: the config parser validates ranges with
 * it, the egress plan and each platform's network rules compute with it, and the policy pack checks
 * rendered rules with the same code.
 */

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
    const push = (list: string[], out: bigint[], endsAddress: boolean): boolean => {
        for (let i = 0; i < list.length; i++) {
            const g = list[i];
            if (g.includes(".")) {
                // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two words of the address.
                const v4 = endsAddress && i === list.length - 1 ? parseV4(g) : undefined;
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
    if (!push(head, headWords, halves.length === 1) || !push(tail, tailWords, true)) return undefined;
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

/** `true` for a valid IPv4 or IPv6 CIDR written without surrounding space, such as `203.0.113.0/24` or `2001:db8::/32`. */
export function isCidr(value: string): boolean {
    return value.trim() === value && parseCidr(value) !== undefined;
}
