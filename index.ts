/**
 * copilot-fleet: the Pulumi program. This is the only place that reads stack configuration; it is
 * parsed and validated in full (components/config.ts) before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseFleetConfig, readRawConfig } from "./components/config";
import { deploy } from "./components/deploy";

const fleet = deploy(parseFleetConfig(readRawConfig(new pulumi.Config())));

export const platform = fleet.platform;
export const mode = fleet.mode;
export const endpoint = fleet.endpoint;
export const connectionToken = fleet.connectionToken;
export const namespace = fleet.namespace;
export const selector = fleet.selector;
export const port = fleet.port;
export const replicas = fleet.replicas;
export const users = fleet.users;
export const redisUrl = fleet.redisUrl;
export const sessionStatePath = fleet.sessionStatePath;
export const provider = fleet.provider;
