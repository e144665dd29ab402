/**
 * The multi-language entry: `pulumi package add <repository>/plugin`. The engine runs this folder
 * (PulumiPlugin.yaml) through the Node.js language host, whose runner (`@pulumi/pulumi/cmd/run-plugin`)
 * loads this file, finds the component classes it exports and serves them with Pulumi's component
 * provider host. That host infers the schema from the classes and their args interfaces, and takes
 * the package name (`copilot-fleet`, so `copilot-fleet:index:SharedFleet`) from package.json here.
 * Each class registers under the token the schema gives it, `copilot-fleet:index:<class name>`
 * (components/contract/types.ts), on every platform.
 */
export { AciNetwork, AciPerUserFleet, AciSharedFleet, AciStorage } from "../components/aci";
export { DockerPerUserFleet, DockerSharedFleet } from "../components/docker";
export { PerUserFleet, SharedFleet } from "../components/kubernetes";
