/**
 * Turns a parsed FleetConfig into resources on the chosen platform. Platform modules are loaded on
 * demand so a stack loads only its own provider SDK (a Kubernetes stack never loads Azure's).
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, FleetConfig } from "./config";
import type { StackOutputs } from "./kubernetes/deploy";

export type { StackOutputs };

/** Name of the fleet component (and prefix of every child's name). */
export const FLEET_NAME = "copilot";

/** The image the fleet runs: the configured prebuilt reference, or one built from the release. */
export async function fleetImage(cfg: FleetConfig, opts?: pulumi.ComponentResourceOptions): Promise<pulumi.Output<string>> {
    if (cfg.image !== undefined) return pulumi.output(cfg.image);
    // Loaded here, not at the top: a stack with `image` set never loads the Docker provider.
    const { CopilotImage } = await import("./image/copilotImage");
    const repository = cfg.imageRepository ?? "copilot-cli";
    return new CopilotImage(
        `${FLEET_NAME}-image`,
        { cliVersion: cfg.cliVersion, repository, push: cfg.imageRepository !== undefined, platform: cfg.imagePlatform },
        opts,
    ).imageRef;
}

/** The BYOK settings clients must send on every create and resume (a secret output), when BYOK is configured. */
export function providerOutput(cfg: FleetConfig): pulumi.Output<{ type: string; baseUrl: string; model: string; apiKey?: string }> | undefined {
    if (cfg.credential.kind !== "provider") return undefined;
    const p = cfg.credential.provider;
    return pulumi.secret(pulumi.output({ type: p.type, baseUrl: p.baseUrl, model: p.model, apiKey: p.apiKey }));
}

export async function deploy(cfg: FleetConfig): Promise<StackOutputs> {
    const image = await fleetImage(cfg);
    let outputs: StackOutputs;
    switch (cfg.platform) {
        case "kubernetes": {
            const { deployKubernetes } = await import("./kubernetes/deploy");
            outputs = deployKubernetes(FLEET_NAME, cfg, image);
            break;
        }
        case "docker": {
            const { deployDocker } = await import("./docker/deploy");
            outputs = deployDocker(FLEET_NAME, cfg, image);
            break;
        }
        default:
            throw new ConfigError([{ key: "platform", message: `platform: ${JSON.stringify(cfg.platform)} is not supported yet` }]);
    }
    const provider = providerOutput(cfg);
    return provider ? { ...outputs, provider } : outputs;
}
