/** Platform "docker" (the laptop stack): what the local engine cannot do, and its defaults. */
import { Collector } from "../issues";
import { DEFAULT_VNET_ADDRESS_SPACE, RawConfig } from "../keys";
import { PlatformSettings, refuseForeignKeys } from "../rules";
import { parseBool } from "../values";
import { ACI_ONLY_KEYS } from "./aci";

export function dockerRules(c: Collector, raw: RawConfig): PlatformSettings {
    if (raw.egressAllowedCidrs !== undefined) {
        c.add("egressAllowedCidrs", 'is set, but platform "docker" cannot restrict egress (containers reach every address the host routes to; see docs/security.md "Egress"); remove the key');
    }
    refuseForeignKeys(c, raw, ACI_ONLY_KEYS, "aci");
    // `pulumi destroy` on a laptop should clean up without a second step.
    return { vnetAddressSpace: DEFAULT_VNET_ADDRESS_SPACE, protectSessionState: parseBool(c, "protectSessionState", raw.protectSessionState, false) };
}
