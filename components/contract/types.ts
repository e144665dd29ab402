/**
 * The resource type token of every component in this package: `copilot-fleet:index:<class name>`.
 *
 * Why one module: Pulumi's component provider host, which serves these classes to other languages
 * (PulumiPlugin.yaml, plugin/), infers the schema as `<package>:index:<class name>`, refuses any
 * other module in a `Construct` call and finds the class by the token's last part
 * (`@pulumi/pulumi/provider/experimental`, 3.248.0). A class that registered under its own module
 * would return, from `Construct`, a URN of another type than the SDK asked for. So TypeScript and
 * every other language see the same tokens, and the class names, unique across platforms
 * (`SharedFleet` on Kubernetes, `AciSharedFleet`, `DockerSharedFleet`, ...), carry the platform.
 *
 * Until 0.1.0 the components registered as `copilot-fleet:<platform>:<Name>`; each passes its
 * former token as an alias (withFormerType), so a stack created then moves onto the new tokens
 * without replacing anything. Children follow their parent's alias (the engine inherits it).
 */
import type * as pulumi from "@pulumi/pulumi";

/** The package name of the tokens and of the multi-language plugin's schema. */
export const PACKAGE_NAME = "copilot-fleet";

/** `copilot-fleet:index:<className>`. */
export function componentType(className: string): string {
    return `${PACKAGE_NAME}:index:${className}`;
}

/** `opts` with an alias to the component's former token `copilot-fleet:<module>:<name>`, after the caller's own aliases. */
export function withFormerType(former: string, opts?: pulumi.ComponentResourceOptions): pulumi.ComponentResourceOptions {
    return { ...opts, aliases: [...(opts?.aliases ?? []), { type: former }] };
}
