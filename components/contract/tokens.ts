import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** Connection tokens we generate: 48 alphanumerics (~285 bits), the same on every platform. */
export const CONNECTION_TOKEN_LENGTH = 48;

/**
 * A generated connection token (`RandomPassword`, a secret), named `<name>-connection-token` so its
 * URN depends only on the fleet or user it belongs to.
 */
export function generatedConnectionToken(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
    return new random.RandomPassword(`${name}-connection-token`, { length: CONNECTION_TOKEN_LENGTH, special: false }, opts).result;
}
