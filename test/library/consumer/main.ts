/**
 * Runs a consumer program (./index.ts, or the one named on the command line) as `pulumi up` would
 * load it (ts-node, CommonJS) but under mocks, and prints what was registered: each resource's type,
 * name, parent and provider, and the awaited URN of every component the program exports.
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
    const programName = process.argv[2] ?? "index";
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
    let program: Record<string, unknown> | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((a) => {
            keyOf.set(a.resource, `${a.type}::${a.name}`);
            registered.push({ type: a.type, name: a.name, parent: a.opts.parent ? keyOf.get(a.opts.parent) : undefined });
            return undefined;
        });
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mocks, as CommonJS
        program = require(`./${programName}`) as Record<string, unknown>;
        return {};
    });
    if (program === undefined) throw new Error("the program did not load");
    const components = Object.entries(program).filter((e): e is [string, pulumi.ComponentResource] => pulumi.ComponentResource.isInstance(e[1]));
    const urns: Record<string, string> = {};
    for (const [exported, component] of components) urns[exported] = await promiseOf(component.urn);
    const endpoint = program.shared instanceof pulumi.ComponentResource ? await promiseOf((program.shared as unknown as { endpoint: pulumi.Output<string> }).endpoint) : undefined;
    // Settle every registration before reporting which provider each resource got.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const r of registered) r.provider = providers.get(`${r.type}::${r.name}`);
    console.log(JSON.stringify({ urns, endpoint, registered }));
}

function promiseOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
