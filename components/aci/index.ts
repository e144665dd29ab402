export { deployAci } from "./deploy";
export { AciNetwork } from "./network";
export { AciPerUserFleet } from "./perUserFleet";
export { AciRegistry } from "./registry";
export { AciSharedFleet } from "./sharedFleet";
export { AciStorage } from "./storage";
