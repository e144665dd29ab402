/**
 * Stack configuration: parsed and validated in one place, before any resource is registered.
 *
 * `parseFleetConfig` is pure (no Pulumi engine needed): it takes the raw strings Pulumi stores for
 * each key and returns typed, defaulted settings, or throws one `ConfigError` listing every mistake,
 * each naming the key, the bad value and what is accepted. Secret values come back wrapped with
 * `pulumi.secret` so they stay secret end to end, and no message shows a value of a key that holds
 * or may hold a secret (`SECRET_CONFIG_KEYS`): those name the path, the JSON type found and what is
 * accepted instead.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Platform } from "../contract/outputs";
import { Collector, ConfigError } from "./issues";
import { CONFIG_KEYS, FleetConfig, RawConfig, SECRET_CONFIG_KEYS } from "./keys";
import { aciRules } from "./platforms/aci";
import { dockerRules } from "./platforms/docker";
import { kubernetesRules } from "./platforms/kubernetes";
import { CommonSettings, parseCommonKeys, PlatformSettings } from "./rules";

const PLATFORM_RULES: Readonly<Record<Platform, (c: Collector, raw: RawConfig, s: CommonSettings) => PlatformSettings>> = {
    kubernetes: kubernetesRules,
    aci: aciRules,
    docker: dockerRules,
};

/** Parse and validate every key; throws `ConfigError` listing every problem found. */
export function parseFleetConfig(raw: RawConfig): FleetConfig {
    const c = new Collector();
    const common = parseCommonKeys(c, raw);
    const platform = PLATFORM_RULES[common.platform](c, raw, common);
    const { credential } = common;
    if (c.issues.length > 0 || credential === undefined) {
        throw new ConfigError(c.issues);
    }
    return { ...common, credential, ...platform };
}

/** The two reads readRawConfig makes of a Pulumi config bag (a `pulumi.Config`). */
export interface ConfigSource {
    get(key: string): string | undefined;
    getSecret(key: string): pulumi.Output<string> | undefined;
}

/** The value of an Output that is known now (config values always are, in previews too). */
function knownValue<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/**
 * Read every key's raw text from a Pulumi config bag (index.ts is the only caller).
 *
 * `SECRET_CONFIG_KEYS` are read with `getSecret`, never `get`: reading a secret as plain text is what
 * Pulumi's "use getSecret instead of get" warning flags (switched off in @pulumi/pulumi 3.x for now,
 * pulumi/pulumi#7127, meant to return). Their text is still needed to validate them before any
 * resource is registered, so their Outputs are awaited here, which never waits on a resource: a config
 * Output is known as soon as it is made. parseFleetConfig wraps every value it takes from them in
 * `pulumi.secret` again; the text lives only between this read and that parse.
 */
export async function readRawConfig(config: ConfigSource): Promise<RawConfig> {
    const raw: RawConfig = {};
    for (const key of CONFIG_KEYS) {
        if (SECRET_CONFIG_KEYS.includes(key)) {
            const secret = config.getSecret(key);
            if (secret !== undefined) raw[key] = await knownValue(secret);
        } else {
            const value = config.get(key);
            if (value !== undefined) raw[key] = value;
        }
    }
    return raw;}
