/**
 * Pulumi unit-test mocks: records every registered resource, answers `call`s from a token map, and
 * fills provider-computed outputs (LB ingress, image digest, generated passwords) into the state.
 * Install with `installMocks()` BEFORE importing the code under test (otherwise outputs
 * never resolve and the test hangs).
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    /** The id the mock gave it (ARM-style paths for azure-native). */
    readonly id: string;
    readonly inputs: Record<string, unknown>;
    /** The inputs as the mock received them: secrets still signature-tagged (resourceSet.ts masks them). */
    readonly rawInputs: Record<string, unknown>;
    readonly state: Record<string, unknown>;
    /** Resource options the engine would see (mocks drop them; the monitor wrapper below keeps them). */
    readonly opts: RecordedOptions;
}

export interface RecordedOptions {
    readonly additionalSecretOutputs: readonly string[];
    readonly protect: boolean;
    readonly ignoreChanges?: readonly string[];
    /** URN of the parent ("" for the stack). */
    readonly parent?: string;
    /** URNs of `dependsOn` and of every resource an input came from. */
    readonly dependencies?: readonly string[];
    readonly deleteBeforeReplace?: boolean;
    readonly replaceOnChanges?: readonly string[];
    readonly retainOnDelete?: boolean;
    /** Provider reference (`urn::id`), empty for the default provider. */
    readonly provider?: string;
}

export const MOCK_LB_IP = "203.0.113.10";
export const MOCK_IMAGE_DIGEST = "sha256:" + "ab".repeat(32);

/** Secrets reach mocks as signature-tagged objects; unwrap them to plain values. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export function unwrapSecrets(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") return unwrapSecrets(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** ACI: private IPs the mocked ARM hands container groups (`10.42.0.4`, `.5`, …; reset by MockRecorder.clear()). */
export const MOCK_ACI_SUBNET_PREFIX = "10.42.0.";
const MOCK_ACI_FIRST_HOST = 4;
let nextAciHost = MOCK_ACI_FIRST_HOST;
export const MOCK_SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000000aa";
export const MOCK_STORAGE_KEY = "mock-storage-account-key==";
/** Invokes every Azure stack makes, answered unless a test overrides them in `callResults`. */
const DEFAULT_CALL_RESULTS: Readonly<Record<string, Record<string, unknown>>> = {
    "azure-native:authorization:getClientConfig": { subscriptionId: MOCK_SUBSCRIPTION_ID, tenantId: "tenant", clientId: "client", objectId: "object" },
    "azure-native:storage:listStorageAccountKeys": { keys: [{ keyName: "key1", value: MOCK_STORAGE_KEY, permissions: "FULL" }] },
};

/** First host port the mocked Docker engine hands out (reset by MockRecorder.clear()). */
export const MOCK_FIRST_PORT = 32768;
let nextPort = MOCK_FIRST_PORT;

function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            // Deterministic but distinct per resource, so tests can tell tokens apart.
            return { ...inputs, result: `mock-${name}-` + "x".repeat(Math.max(0, Number(inputs.length ?? 32) - name.length - 6)) };
        case "kubernetes:core/v1:Service": {
            const spec = (inputs.spec ?? {}) as Record<string, unknown>;
            const status = spec.type === "LoadBalancer" ? { loadBalancer: { ingress: [{ ip: MOCK_LB_IP }] } } : { loadBalancer: {} };
            return { ...inputs, status };
        }
        case "docker:index/container:Container": {
            // The engine picks loopback host ports for published ports; mimic one per container.
            const ports = ((inputs.ports ?? []) as Array<Record<string, unknown>>).map((p) => ({ ...p, external: nextPort++ }));
            return { ...inputs, ports };
        }
        case "docker:index/remoteImage:RemoteImage":
            return { ...inputs, imageId: `sha256:${"cd".repeat(32)}`, repoDigest: `${String(inputs.name).split(":")[0]}@${MOCK_IMAGE_DIGEST}` };
        case "docker:index/image:Image":
            return { ...inputs, repoDigest: `${String(inputs.imageName).split(":")[0]}@${MOCK_IMAGE_DIGEST}` };
        case "azure-native:containerinstance:ContainerGroup": {
            // ARM assigns each group a private IP from its subnet.
            const ip = inputs.ipAddress as Record<string, unknown> | undefined;
            return ip ? { ...inputs, ipAddress: { ...ip, ip: `${MOCK_ACI_SUBNET_PREFIX}${nextAciHost++}` } } : inputs;
        }
        case "azure-native:containerregistry:Registry":
            return { ...inputs, loginServer: `${String(inputs.registryName)}.azurecr.io` };
        case "azure-native:managedidentity:UserAssignedIdentity":
            return { ...inputs, principalId: `principal-${name}`, clientId: `client-${name}` };
        default:
            return inputs;
    }
}

/**
 * The id ARM would give: real paths for the network resources (the policy pack links a container
 * group's subnet to its security group through them), a placeholder path for everything else.
 */
function armId(type: string, name: string, inputs: Record<string, unknown>): string {
    const rg = `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/${typeof inputs.resourceGroupName === "string" ? inputs.resourceGroupName : "mock-rg"}`;
    if (type === "azure-native:network:Subnet") return `${rg}/providers/Microsoft.Network/virtualNetworks/${String(inputs.virtualNetworkName)}/subnets/${String(inputs.subnetName)}`;
    if (type === "azure-native:network:NetworkSecurityGroup") return `${rg}/providers/Microsoft.Network/networkSecurityGroups/${String(inputs.networkSecurityGroupName)}`;
    return `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/mock-rg/providers/${type}/${name}`;
}

/** One alias a resource registered with, as the engine receives it (a URN, or a spec whose empty fields mean "the resource's own"). */
export interface RecordedAlias {
    readonly urn?: string;
    readonly name?: string;
    readonly type?: string;
    readonly parentUrn?: string;
    readonly noParent?: boolean;
}

/** A RegisterResource request in the order the monitor received it, with its aliases. */
export interface RecordedRegistration {
    readonly type: string;
    readonly name: string;
    /** URN of the parent ("" for none). */
    readonly parent: string;
    readonly aliases: readonly RecordedAlias[];
}

export class MockRecorder {
    readonly resources: RecordedResource[] = [];
    /** Every RegisterResource request, in arrival order (kept apart from `resources`, whose options the layout snapshot holds). */
    readonly registrations: RecordedRegistration[] = [];
    readonly callResults = new Map<string, Record<string, unknown>>();
    /** Options seen on each RegisterResource request, keyed `type::name`, read when the mock creates it. */
    readonly pendingOptions = new Map<string, RecordedOptions>();
    clear(): void {
        this.resources.length = 0;
        this.registrations.length = 0;
        nextPort = MOCK_FIRST_PORT;
        nextAciHost = MOCK_ACI_FIRST_HOST;
    }
    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }
    one(type: string, name: string): RecordedResource {
        const found = this.resources.filter((r) => r.type === type && r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type} named ${name}, found ${found.length}; have: ${this.resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
        }
        return found[0];
    }
}

export function installMocks(project = "copilot-fleet", stack = "test"): MockRecorder {
    const rec = new MockRecorder();
    pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
                const state = computedState(args.type, args.name, inputs);
                const opts = rec.pendingOptions.get(`${args.type}::${args.name}`) ?? { additionalSecretOutputs: [], protect: false };
                const meta = (inputs.metadata ?? {}) as Record<string, unknown>;
                // Azure resource ids are ARM paths; code parses the subscription out of them.
                const id = typeof meta.name === "string" ? meta.name : args.type.startsWith("azure-native:") ? armId(args.type, args.name, inputs) : `${args.name}-id`;
                rec.resources.push({ type: args.type, name: args.name, id, inputs, rawInputs: args.inputs as Record<string, unknown>, state, opts });
                return { id, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                const result = rec.callResults.get(args.token) ?? DEFAULT_CALL_RESULTS[args.token];
                if (!result) throw new Error(`unexpected call ${args.token}`);
                return result;
            },
        },
        project,
        stack,
        false,
    );
    // Mocks receive only type/name/inputs; wrap the mock monitor to keep the options policies check.
    interface RegisterRequest {
        getType(): string;
        getName(): string;
        getAdditionalsecretoutputsList(): string[];
        getProtect(): boolean;
        getIgnorechangesList(): string[];
        getParent(): string;
        getDependenciesList(): string[];
        getDeletebeforereplace(): boolean;
        getReplaceonchangesList(): string[];
        getRetainondelete(): boolean;
        getProvider(): string;
        getAliasesList(): {
            getUrn(): string;
            getSpec(): { getName(): string; getType(): string; getParenturn(): string; getNoparent(): boolean } | undefined;
        }[];
    }
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        rec.pendingOptions.set(`${req.getType()}::${req.getName()}`, {
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            protect: req.getProtect(),
            ignoreChanges: req.getIgnorechangesList(),
            parent: req.getParent(),
            dependencies: req.getDependenciesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            replaceOnChanges: req.getReplaceonchangesList(),
            retainOnDelete: req.getRetainondelete(),
            provider: req.getProvider(),
        });
        rec.registrations.push({
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            aliases: req.getAliasesList().map((a) => {
                const spec = a.getSpec();
                if (a.getUrn() !== "" || spec === undefined) return { urn: a.getUrn() };
                return { name: spec.getName() || undefined, type: spec.getType() || undefined, parentUrn: spec.getParenturn() || undefined, noParent: spec.getNoparent() || undefined };
            }),
        });
        return register(req, cb);
    };
    return rec;
}

/** Resolve an Output (or plain value) to its value; tests await this before asserting. */
export function promiseOf<T>(o: pulumi.Input<T> | undefined): Promise<T | undefined> {
    if (o === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

/** Wait until the engine has seen every resource registered so far. */
export function settle(ms = 50): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}
