/**
 * The multi-language entry (`pulumi package add <path to this package>`): PulumiPlugin.yaml points
 * here. The Node.js language host runs this file, and Pulumi's component provider host infers the
 * schema from the classes below and their args interfaces (the re-exports are what it follows).
 * Each class registers under the token the schema gives it, `copilot-fleet:index:<class name>`
 * (components/contract/types.ts).
 */
import { componentProviderHost } from "@pulumi/pulumi/provider/experimental";
import { AciNetwork, AciPerUserFleet, AciSharedFleet, AciStorage } from "../components/aci";
import { PACKAGE_NAME } from "../components/contract/types";
import { DockerPerUserFleet, DockerSharedFleet } from "../components/docker";
import { PerUserFleet, SharedFleet } from "../components/kubernetes";

export { AciNetwork, AciPerUserFleet, AciSharedFleet, AciStorage } from "../components/aci";
export { DockerPerUserFleet, DockerSharedFleet } from "../components/docker";
export { PerUserFleet, SharedFleet } from "../components/kubernetes";

/** Package name of the inferred schema (`copilot-fleet:index:SharedFleet`, ...). */
export const PLUGIN_NAME = PACKAGE_NAME;

/** Every class the plugin serves; the schema test lists the same. */
export const PLUGIN_COMPONENTS = [SharedFleet, PerUserFleet, DockerSharedFleet, DockerPerUserFleet, AciNetwork, AciStorage, AciSharedFleet, AciPerUserFleet];

if (require.main === module) {
    void componentProviderHost({ name: PLUGIN_NAME, components: PLUGIN_COMPONENTS, dirname: __dirname });
}
