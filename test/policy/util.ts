/**
 * Runs policies the way the Pulumi engine's analyzer does (node_modules/@pulumi/policy/server.js),
 * without starting the policy server: builds ResourceValidationArgs / StackValidationArgs, wraps
 * props in the engine's unknown-checking proxy, applies config-schema defaults, honours the type
 * filter, turns `notApplicable` into a result, and collects every reportViolation call.
 */
import { createRequire } from "module";
import * as path from "path";
import {
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";

interface ProxyModule {
    unknownCheckingProxy<T extends object>(props: T): T;
    unknownStringValue: unknown;
    UnknownValueError: new (...args: never[]) => Error;
}
// The engine's proxy is @internal (absent from the .d.ts), so load it by path with a local type.
const requireFromRoot = createRequire(path.join(process.cwd(), "package.json"));
const proxy = requireFromRoot("@pulumi/policy/proxy") as ProxyModule;

/** The engine's marker for a value not known until `pulumi up` (e.g. a digest from a build in the same stack). */
export const UNKNOWN = proxy.unknownStringValue;

export interface FakeResource {
    type: string;
    readonly name: string;
    readonly props: Record<string, unknown>;
    opts?: Partial<PolicyResourceOptions>;
    readonly provider?: { type: string; name: string; props: Record<string, unknown> };
}

export interface PolicyRun {
    readonly violations: { message: string; urn?: string }[];
    /** Reasons given by validators that declared themselves not applicable. */
    readonly notApplicable: string[];
    /** Validators that could not run because they read an unknown value (the engine reports these as advisory). */
    readonly unknownReads: string[];
}

class NotApplicable extends Error {}

function defaults(policy: ResourceValidationPolicy | StackValidationPolicy, config: object): object {
    const out: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
        if (schema.default !== undefined) out[k] = schema.default;
    }
    return { ...out, ...config };
}

function typeOf(resourceClass: object): string | undefined {
    const t = (resourceClass as { __pulumiType?: unknown }).__pulumiType;
    return typeof t === "string" ? t : undefined;
}

export const urnOf = (r: { type: string; name: string }): string => `urn:pulumi:test::copilot-fleet::${r.type}::${r.name}`;

function options(opts: Partial<PolicyResourceOptions> | undefined): PolicyResourceOptions {
    return {
        protect: false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
        ...opts,
    };
}

function notApplicable(reason?: string): never {
    throw new NotApplicable(reason ?? "not applicable");
}

export async function runResourcePolicy(policy: ResourceValidationPolicy, r: FakeResource, config: object = {}): Promise<PolicyRun> {
    const run: PolicyRun = { violations: [], notApplicable: [], unknownReads: [] };
    const validations: ResourceValidation[] =
        policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    const report: ReportViolation = (message, urn) => run.violations.push({ message, urn });
    for (const validate of validations) {
        const props = proxy.unknownCheckingProxy(structuredClone(r.props));
        const args: ResourceValidationArgs = {
            type: r.type,
            props,
            urn: urnOf(r),
            name: r.name,
            opts: options(r.opts),
            provider: r.provider ? { ...r.provider, urn: urnOf(r.provider) } : undefined,
            stackTags: new Map(),
            isType: (cls) => typeOf(cls) === r.type,
            asType: <TResource, TArgs>(cls: { new (name: string, args: TArgs, ...rest: never[]): TResource }) =>
                (typeOf(cls) === r.type ? props : undefined) as never,
            getConfig: <T extends object>() => defaults(policy, config) as T,
            notApplicable,
        };
        try {
            await validate(args, report);
        } catch (e) {
            if (e instanceof NotApplicable) run.notApplicable.push(e.message);
            else if (e instanceof proxy.UnknownValueError) run.unknownReads.push(e.message);
            else throw e;
        }
    }
    return run;
}

export async function runStackPolicy(policy: StackValidationPolicy, resources: readonly FakeResource[], config: object = {}): Promise<PolicyRun> {
    const run: PolicyRun = { violations: [], notApplicable: [], unknownReads: [] };
    const policyResources: PolicyResource[] = resources.map((r) => ({
        type: r.type,
        props: proxy.unknownCheckingProxy(structuredClone(r.props)),
        urn: urnOf(r),
        name: r.name,
        opts: options(r.opts),
        provider: r.provider ? { ...r.provider, urn: urnOf(r.provider) } : undefined,
        dependencies: [],
        propertyDependencies: {},
        isType: (cls) => typeOf(cls) === r.type,
        asType: () => undefined,
    }));
    const args: StackValidationArgs = {
        resources: policyResources,
        stackTags: new Map(),
        getConfig: <T extends object>() => defaults(policy, config) as T,
        notApplicable,
    };
    try {
        await policy.validateStack(args, (message, urn) => run.violations.push({ message, urn }));
    } catch (e) {
        if (e instanceof NotApplicable) run.notApplicable.push(e.message);
        else if (e instanceof proxy.UnknownValueError) run.unknownReads.push(e.message);
        else throw e;
    }
    return run;
}

/** Deep copy with one change, so each case starts from the compliant input. */
export function withChange<T>(base: T, change: (copy: T) => void): T {
    const copy = structuredClone(base);
    change(copy);
    return copy;
}
