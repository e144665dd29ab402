export * from "./render";
export * from "./redis";
export * from "./sharedFleet";
export * from "./deploy";
