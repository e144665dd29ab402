/**
 * Runs ./index.ts as `pulumi up` would load it (ts-node, CommonJS) but under mocks, and prints what
 * was registered: each resource's type, name, parent and provider, and the fleets' awaited URNs.
 */
import * as pulumi from "@pulumi/pulumi";

interface Registered {
    type: string;
    name: string;
    parent?: string;
    provider?: string;
}

const registered: Registered[] = [];
const providers = new Map<string, string>();
const keyOf = new Map<pulumi.Resource, string>();

async function main(): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                if (args.provider !== undefined) providers.set(`${args.type}::${args.name}`, args.provider);
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => args.inputs,
        },
        "consumer",
        "test",
    );
    // The program runs inside a root stack, as the language host runs it for `pulumi up`.
    let program: typeof import("./index") | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((a) => {
            keyOf.set(a.resource, `${a.type}::${a.name}`);
            registered.push({ type: a.type, name: a.name, parent: a.opts.parent ? keyOf.get(a.opts.parent) : undefined });
            return undefined;
        });
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, as CommonJS
        program = require("./index") as typeof import("./index");
        return {};
    });
    if (program === undefined) throw new Error("the program did not load");
    const [sharedUrn, perUserUrn, endpoint] = await Promise.all([
        promiseOf(program.shared.urn),
        promiseOf(program.perUser.urn),
        promiseOf(program.shared.endpoint),
    ]);
    // Settle every registration before reporting which provider each resource got.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const r of registered) r.provider = providers.get(`${r.type}::${r.name}`);
    console.log(JSON.stringify({ sharedUrn, perUserUrn, endpoint, registered }));
}

function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
