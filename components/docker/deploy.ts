import * as pulumi from "@pulumi/pulumi";
import { ConfigError, FleetConfig } from "../config";
import type { StackOutputs } from "../kubernetes/deploy";

/** Deploys the configured fleet to the local Docker engine. */
export function deployDocker(_name: string, _cfg: FleetConfig, _image: pulumi.Input<string>): StackOutputs {
    throw new ConfigError([{ key: "platform", message: 'platform: "docker" is not supported yet by this version of copilot-fleet; supported now: "kubernetes"' }]);
}
