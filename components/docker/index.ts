export { deployDocker } from "./deploy";
export { DockerPerUserFleet } from "./perUserFleet";
export type { DockerPerUserFleetArgs } from "./perUserFleet";
export { DockerRedis } from "./redis";
export type { DockerRedisArgs } from "./redis";
export { DockerSessionCleanup } from "./cleanup";
export type { DockerSessionCleanupArgs } from "./cleanup";
export { DockerSharedFleet } from "./sharedFleet";
export type { DockerServerSettingsArgs, DockerSharedFleetArgs } from "./sharedFleet";
