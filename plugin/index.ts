/**
 * The multi-language entry (`pulumi package add <path to this package>`): PulumiPlugin.yaml points
 * here. The Node.js language host runs this file, and Pulumi's component provider host infers the
 * schema from the classes below and their args interfaces (the re-exports are what it follows).
 */
import { componentProviderHost } from "@pulumi/pulumi/provider/experimental";
import { PACKAGE_NAME } from "../components/contract/types";
import { PerUserFleet, SharedFleet } from "../components/kubernetes";

export { PerUserFleet, SharedFleet } from "../components/kubernetes";

/** Package name of the inferred schema (`copilot-fleet:index:SharedFleet`, ...). */
export const PLUGIN_NAME = PACKAGE_NAME;

if (require.main === module) {
    void componentProviderHost({ name: PLUGIN_NAME, components: [SharedFleet, PerUserFleet], dirname: __dirname });
}
