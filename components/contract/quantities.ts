/**
 * Kubernetes resource quantities (`250m`, `2`, `512Mi`, `10Gi`): the one unit the config and the
 * server contract speak. Each platform converts them to its own units (Docker megabytes and `cpus`,
 * ACI cores and GB, Azure Files GiB) through these helpers, so the suffix rules are written once.
 */

/** A Kubernetes resource.Quantity (binary and decimal suffixes, and `m` for milli-units). */
export const QUANTITY = /^([0-9]+(\.[0-9]+)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;

const BYTE_FACTORS: Readonly<Record<string, number>> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
};

/** A memory or storage quantity (`512Mi`, `2G`, `10Gi`) in bytes; throws on anything else. */
export function quantityBytes(q: string): number {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q);
    if (!m) throw new Error(`cannot convert quantity ${JSON.stringify(q)} to bytes`);
    return Number(m[1]) * BYTE_FACTORS[m[2] ?? ""];
}

/** A CPU quantity (`250m`, `2`, `0.5`) in cores; throws on anything else. */
export function quantityCores(q: string): number {
    const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q);
    if (!m) throw new Error(`cannot convert CPU quantity ${JSON.stringify(q)} to cores`);
    return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}
