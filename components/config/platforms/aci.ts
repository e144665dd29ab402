/**
 * Platform "aci": its own keys (location, resourceGroupName, vnetAddressSpace), the keys it refuses
 * because they mean something only on Kubernetes, and the limits of Azure Files and ACI networking.
 */
import { isCidr } from "../../contract/cidr";
import { quantityBytes } from "../../contract/quantities";
import { Collector, show } from "../issues";
import { ConfigKey, DEFAULT_VNET_ADDRESS_SPACE, MAX_VNET_PREFIX, MIN_VNET_PREFIX, RawConfig } from "../keys";
import { CommonSettings, PlatformSettings, refuseForeignKeys, refusePerUserRedis } from "../rules";
import { parseBool } from "../values";

/** Keys that only mean something on Kubernetes; ACI refuses them rather than ignore them. */
const KUBERNETES_ONLY_KEYS: readonly ConfigKey[] = ["storageClass", "namespace", "createNamespace", "serviceAnnotations", "clientAffinity"];
/** Keys that only mean something on ACI; the other platforms refuse them. */
export const ACI_ONLY_KEYS: readonly ConfigKey[] = ["location", "resourceGroupName", "vnetAddressSpace"];
/** Azure Files quotas are whole GiB; a standard share (without large-file shares) holds at most 5 TiB. */
export const MAX_SHARE_QUOTA_GIB = 5120;

/** Azure resource group names: 1–90 of letters, digits, `_`, `-`, `.`, `(`, `)`, not ending in `.`. */
const RESOURCE_GROUP_NAME = /^[-\w.()]{0,89}[-\w()]$/;
/** Azure region names as ARM spells them (`westeurope`, `eastus2`). */
const AZURE_LOCATION = /^[a-z][a-z0-9]{2,39}$/;

/** `vnetAddressSpace` problem, or undefined: an IPv4 network address with a /8–/24 prefix. */
export function vnetAddressSpaceProblem(cidr: string): string | undefined {
    if (!isCidr(cidr) || cidr.includes(":")) return "is not an IPv4 CIDR";
    const [addr, prefixText] = cidr.split("/");
    const prefix = Number(prefixText);
    if (prefix < MIN_VNET_PREFIX || prefix > MAX_VNET_PREFIX) return `has prefix /${prefix}; accepted /${MIN_VNET_PREFIX} to /${MAX_VNET_PREFIX} (the two subnets are its first two quarters)`;
    const n = addr.split(".").reduce((a, o) => a * 256 + Number(o), 0);
    if (n % 2 ** (32 - prefix) !== 0) return `is not a network address (host bits set after /${prefix})`;
    return undefined;
}

/** ACI has no public exposure (shared by the config and AciNetwork's `exposure` argument). */
export function checkAciExposure(c: Collector, exposure: string): void {
    if (exposure === "public") {
        c.add(
            "exposure",
            '"public" is not supported on platform "aci": container groups in a virtual network get no public IP and an Azure Load Balancer cannot front them; ' +
                'use "internal" (allowedCidrs limits the callers) and put your own ingress (Application Gateway v2, a VPN or a peered network) in front',
        );
    }
}

/** `storageSize` within an Azure Files share's quota (a size the common rules refused is left to them). */
export function checkShareSize(c: Collector, size: string): void {
    const storageBytes = safeBytes(size);
    if (storageBytes !== undefined && storageBytes > MAX_SHARE_QUOTA_GIB * 2 ** 30) {
        c.add("storageSize", `${show(size)} is ${Math.ceil(storageBytes / 2 ** 30)} GiB; an Azure Files share holds at most ${MAX_SHARE_QUOTA_GIB} GiB on platform "aci"`);
    }
}

/** `vnetAddressSpace` (vnetAddressSpaceProblem). */
export function checkVnetAddressSpace(c: Collector, cidr: string): void {
    const problem = vnetAddressSpaceProblem(cidr);
    if (problem !== undefined) c.add("vnetAddressSpace", `${show(cidr)} ${problem}; use e.g. "${DEFAULT_VNET_ADDRESS_SPACE}"`);
}

export function aciRules(c: Collector, raw: RawConfig, s: CommonSettings): PlatformSettings {
    refuseForeignKeys(c, raw, KUBERNETES_ONLY_KEYS, "kubernetes", (key) =>
        key === "storageClass" ? "session state is an Azure Files share in the stack's storage account" : key === "clientAffinity" ? "the ACI load balancer balances by least connections; route by session id in the client" : "there is no Kubernetes object on ACI",
    );
    if (raw.imageRepository !== undefined) {
        c.add("imageRepository", `${show(raw.imageRepository)} is set, but on platform "aci" the image is pushed to the stack's own Azure Container Registry (pulled by managed identity); remove the key, or set image to a prebuilt public reference`);
    }
    if (raw.exposure !== undefined) checkAciExposure(c, raw.exposure);
    refusePerUserRedis(c, s);
    if (raw.location !== undefined && !AZURE_LOCATION.test(raw.location)) {
        c.add("location", `${show(raw.location)} is not an Azure region name; use the lowercase name ARM uses, e.g. "westeurope" or "eastus2" (\`az account list-locations -o table\`)`);
    }
    if (raw.resourceGroupName !== undefined && !RESOURCE_GROUP_NAME.test(raw.resourceGroupName)) {
        c.add("resourceGroupName", `${show(raw.resourceGroupName)} is not a resource group name: 1-90 letters, digits, "_", "-", ".", "(", ")", not ending in "."`);
    }
    checkShareSize(c, s.storageSize);
    const vnetAddressSpace = raw.vnetAddressSpace ?? DEFAULT_VNET_ADDRESS_SPACE;
    checkVnetAddressSpace(c, vnetAddressSpace);
    const protectSessionState = parseBool(c, "protectSessionState", raw.protectSessionState, true);
    return { location: raw.location, resourceGroupName: raw.resourceGroupName, vnetAddressSpace, protectSessionState };
}

/** Bytes of a quantity the common rules already checked; undefined when it was refused there. */
function safeBytes(q: string): number | undefined {
    try {
        return quantityBytes(q);
    } catch {
        return undefined;
    }
}
