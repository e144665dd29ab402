/** Platform "kubernetes": what a cluster needs from the config, and what it refuses. */
import { Collector } from "../issues";
import { DEFAULT_VNET_ADDRESS_SPACE, RawConfig } from "../keys";
import { CommonSettings, PlatformSettings, refuseForeignKeys, refusePerUserRedis } from "../rules";
import { parseBool } from "../values";
import { ACI_ONLY_KEYS } from "./aci";

export function kubernetesRules(c: Collector, raw: RawConfig, s: CommonSettings): PlatformSettings {
    if (raw.image === undefined && raw.imageRepository === undefined) {
        c.add("image", 'is not set and neither is imageRepository; on platform "kubernetes" set image (a prebuilt, pinned reference) or imageRepository (a registry the cluster can pull from; the image is built and pushed there)');
    }
    refusePerUserRedis(c, s);
    refuseForeignKeys(c, raw, ACI_ONLY_KEYS, "aci");
    return { vnetAddressSpace: DEFAULT_VNET_ADDRESS_SPACE, protectSessionState: parseBool(c, "protectSessionState", raw.protectSessionState, true) };
}
