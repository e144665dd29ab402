export * from "./render";
export * from "./redis";
export * from "./sharedFleet";
export * from "./perUserFleet";
export * from "./deploy";
