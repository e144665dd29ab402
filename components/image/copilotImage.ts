import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { existsSync } from "fs";
import * as path from "path";
import { DEFAULT_IMAGE_PLATFORM, ImagePlatform } from "../config";
import { componentType, withFormerType } from "../contract/types";

/**
 * The Dockerfile this package ships (images/copilot-cli), found from the package root: this file runs
 * from components/image/ in the repository and from dist/components/image/ in the published package.
 */
export const IMAGE_CONTEXT = imageContext(__dirname);

/** `images/copilot-cli` in the nearest ancestor of `from` that has one. */
export function imageContext(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        const candidate = path.join(dir, "images", "copilot-cli");
        if (existsSync(path.join(candidate, "Dockerfile"))) return candidate;
        if (path.dirname(dir) === dir) throw new Error(`images/copilot-cli/Dockerfile not found above ${from}`);
    }
}

export interface RegistryArgs {
    /** Registry host, e.g. `myregistry.azurecr.io`. */
    readonly server: pulumi.Input<string>;
    /** Username; omit to use the Docker credential helpers already logged in on the machine. */
    readonly username?: pulumi.Input<string>;
    /** Password (secret); omit with credential helpers. */
    readonly password?: pulumi.Input<string>;
}

export interface CopilotImageArgs {
    /** Exact Copilot CLI version (`x.y.z`) baked into the image. */
    readonly cliVersion: string;
    /**
     * Repository to tag and push to, without tag, e.g. `myregistry.azurecr.io/copilot-cli`. Default
     * `copilot-cli` (local engine only, not pushed).
     */
    readonly repository?: pulumi.Input<string>;
    /** Push to `repository` (and output `repo@sha256:<digest>`). Default false: build into the local engine only. */
    readonly push?: boolean;
    /** Registry credentials; default the Docker credential helpers already logged in on this machine. */
    readonly registry?: RegistryArgs;
    /** Target platform. Default linux/amd64. */
    readonly platform?: ImagePlatform;
    /** Override the release download base (a mirror); default the GitHub release of `cliVersion`. */
    readonly releaseBaseUrl?: pulumi.Input<string>;
    /** Base image (any Debian bookworm with apt, glibc and libstdc++, pinned); default the Dockerfile's pinned debian slim. */
    readonly baseImage?: pulumi.Input<string>;
}

/** `docker build` arguments for images/copilot-cli (its README documents them). */
export function imageBuildArgs(cliVersion: string, releaseBaseUrl?: pulumi.Input<string>, baseImage?: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
    const args: Record<string, pulumi.Input<string>> = { COPILOT_VERSION: cliVersion };
    if (releaseBaseUrl !== undefined) args.RELEASE_BASE_URL = releaseBaseUrl;
    if (baseImage !== undefined) args.BASE_IMAGE = baseImage;
    return args;
}

/** The tag: the CLI version plus the platform, so two platforms never overwrite each other's tag. */
export function imageTag(cliVersion: string, platform: ImagePlatform): string {
    return `${cliVersion}-${platform.replace("/", "-")}`;
}

/**
 * Builds the Copilot CLI image from the GitHub release for one version and platform, pushes it when
 * a registry is given, and exposes a reference pinned by digest (`imageRef`) for the fleets.
 */
export class CopilotImage extends pulumi.ComponentResource {
    /** `repo@sha256:...` when pushed; `repo:tag` for a local-only build (the local engine has no repo digest). */
    public readonly imageRef: pulumi.Output<string>;
    public readonly imageName: pulumi.Output<string>;

    constructor(name: string, args: CopilotImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(componentType("CopilotImage"), name, {}, withFormerType("copilot-fleet:image:CopilotImage", opts));
        const platform = args.platform ?? DEFAULT_IMAGE_PLATFORM;
        const repository = args.repository ?? "copilot-cli";
        const push = args.push ?? false;
        const image = new docker.Image(
            name,
            {
                imageName: pulumi.interpolate`${repository}:${imageTag(args.cliVersion, platform)}`,
                build: {
                    context: IMAGE_CONTEXT,
                    dockerfile: path.join(IMAGE_CONTEXT, "Dockerfile"),
                    platform,
                    args: imageBuildArgs(args.cliVersion, args.releaseBaseUrl, args.baseImage),
                },
                skipPush: !push,
                registry: args.registry,
            },
            { parent: this },
        );
        this.imageName = image.imageName;
        // A local engine has no repository digest; the exact version tag (built by this stack) is the pin there.
        this.imageRef = push ? image.repoDigest : image.imageName;
        this.registerOutputs({ imageRef: this.imageRef, imageName: this.imageName });
    }
}
