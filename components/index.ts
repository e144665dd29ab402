/**
 * The platform-neutral entry of the library (`copilot-fleet`): the stack-config parser, the CLI
 * server contract and the names of the outputs. It loads no provider SDK; each platform's
 * components sit behind their own entry (`copilot-fleet/kubernetes`, `/aci`, `/docker`) and the
 * image build behind `copilot-fleet/image` (it needs @pulumi/docker).
 */
export * from "./config";
export * from "./contract/server";
export * from "./contract/outputs";
export { buildCleanupSpec } from "./contract/cleanup";
export type { CleanupSettings, CleanupSpec } from "./contract/cleanup";
export { egressPlan } from "./contract/egress";
export type { EgressPlan } from "./contract/egress";
export type { ServerResourcesArgs, ServerSettingsArgs, SessionCleanupArgs, TelemetryArgs, UserArgs } from "./contract/args";
