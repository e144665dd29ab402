/**
 * Stack configuration, parsed and validated here and nowhere else: keys.ts (every key, its default
 * and the typed FleetConfig), values.ts and objects.ts (one key's value), rules.ts (rules between
 * keys, on every platform), platforms/ (what one platform accepts or needs), parse.ts (the entry
 * points index.ts calls), issues.ts (how mistakes are reported), args.ts (the components' own
 * argument checks, by the same rules).
 */
export {
    CONFIG_KEYS,
    SECRET_CONFIG_KEYS,
    DEFAULT_CLI_VERSION,
    DEFAULT_EXPOSURE,
    DEFAULT_IMAGE_PLATFORM,
    DEFAULT_REPLICAS,
    DEFAULT_STORAGE_SIZE,
    cleanupSettings,
} from "./keys";
export type { ConfigKey, CredentialConfig, Exposure, FleetConfig, ImagePlatform, ProviderConfig, RawConfig, UserConfig } from "./keys";
export { ConfigError } from "./issues";
export type { ConfigIssue } from "./issues";
export { imageReferenceProblem } from "./values";
export { MAX_SHARE_QUOTA_GIB, vnetAddressSpaceProblem } from "./platforms/aci";
export { parseFleetConfig, readRawConfig } from "./parse";
export type { ConfigSource } from "./parse";
