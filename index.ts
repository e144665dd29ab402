/**
 * copilot-fleet: the Pulumi program. This is the only place that reads stack configuration; it is
 * parsed and validated in full (components/config/) before any resource is registered.
 *
 * The program is an async function (Pulumi awaits it and takes its result as the stack outputs) so
 * each platform's provider SDK is loaded only when that platform is deployed.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseFleetConfig, readRawConfig } from "./components/config";
import { deploy } from "./components/deploy";

export = async () => deploy(parseFleetConfig(await readRawConfig(new pulumi.Config())));
