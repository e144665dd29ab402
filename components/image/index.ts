export * from "./copilotImage";
