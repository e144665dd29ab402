/**
 * The components' type tokens moved from `copilot-fleet:<platform>:<Name>` to
 * `copilot-fleet:index:<class name>` (components/contract/types.ts). A stack created under the old
 * tokens must map onto the new ones resource for resource: otherwise `pulumi up` would replace every
 * fleet, and stop at the protected session state.
 *
 * Every representative stack (test/helpers/resourceSet.ts) is deployed under mocks inside a root
 * stack, as `pulumi up` runs a program, and the aliases each resource sends are resolved to URNs by
 * the engine's rules (pulumi/pulumi v3.248.0, pkg/resource/deploy/step_generator.go:
 * collapseAliasToUrn, inheritedChildAlias, generateAliases): an alias spec's empty name and type are
 * the resource's own; its parent, when that parent itself matched an old URN, is that old URN; and a
 * child of such a parent also tries the parent's old URN as its parent (with the parent's old name in
 * place of its new one where the child's name starts with it). Then every URN the old stack held
 * (test/fixtures/urns-before-index-tokens.json, taken from the resource-set snapshot before the
 * change) must be claimed by exactly one new resource.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { installMocks, MockRecorder, RecordedRegistration, settle } from "./helpers/pulumiMocks";
import { RESOURCE_SET_CASES } from "./helpers/resourceSet";

const OLD_URNS = JSON.parse(readFileSync(path.join(__dirname, "fixtures", "urns-before-index-tokens.json"), "utf8")) as Record<string, string[]>;
const PREFIX = "urn:pulumi:test::copilot-fleet::";
const ROOT_STACK = "pulumi:pulumi:Stack";

const qualifiedType = (urn: string): string => urn.slice(PREFIX.length, urn.lastIndexOf("::"));
const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);
const typeOf = (urn: string): string => qualifiedType(urn).split("$").pop() ?? "";

/** A URN as the engine builds it: the parent's qualified type leads, except the root stack's. */
function urnOf(type: string, name: string, parent: string): string {
    if (parent === "" || qualifiedType(parent) === ROOT_STACK) return `${PREFIX}${type}::${name}`;
    return `${PREFIX}${qualifiedType(parent)}$${type}::${name}`;
}

/**
 * The mock monitor builds a child's URN with the root stack's type in front (`pulumi:pulumi:Stack$...`);
 * the engine leaves it out. Parent URNs are read the engine's way.
 */
const engineUrn = (urn: string): string => urn.split(`${ROOT_STACK}$`).join("");

/** Old URN → the new URNs that claim it, resolving aliases in registration order as the engine does. */
function claims(registrations: readonly RecordedRegistration[], old: ReadonlySet<string>): Map<string, string[]> {
    const matched = new Map<string, string>();
    const out = new Map<string, string[]>();
    for (const request of registrations) {
        const r = { ...request, parent: engineUrn(request.parent), aliases: request.aliases.map((a) => ({ ...a, parentUrn: a.parentUrn && engineUrn(a.parentUrn) })) };
        const urn = urnOf(r.type, r.name, r.parent);
        const own = r.aliases.map((a) => a.urn ?? urnOf(a.type ?? r.type, a.name ?? r.name, a.noParent ? "" : a.parentUrn !== undefined ? (matched.get(a.parentUrn) ?? a.parentUrn) : r.parent));
        const candidates = [urn, ...own];
        const parentOld = matched.get(r.parent);
        if (parentOld !== undefined && parentOld !== r.parent) {
            const parentName = nameOf(r.parent);
            const inherited = (type: string, name: string) => urnOf(type, name.startsWith(parentName) ? nameOf(parentOld) + name.slice(parentName.length) : name, parentOld);
            candidates.push(inherited(r.type, r.name), ...own.map((u) => inherited(typeOf(u), nameOf(u))));
        }
        const hit = candidates.find((c) => old.has(c));
        if (hit === undefined) continue;
        matched.set(urn, hit);
        out.set(hit, [...(out.get(hit) ?? []), urn]);
    }
    return out;
}

let rec: MockRecorder;
const registered: Record<string, RecordedRegistration[]> = {};

beforeAll(async () => {
    rec = installMocks();
    const pulumiMod: typeof pulumi = await import("@pulumi/pulumi");
    const { deploy } = await import("../components/deploy");
    const { parseFleetConfig } = await import("../components/config");
    for (const [name, raw] of Object.entries(RESOURCE_SET_CASES)) {
        rec.clear();
        await pulumiMod.runtime.runInPulumiStack(async () => {
            const outputs = await deploy(parseFleetConfig(raw));
            return { ...outputs };
        });
        await settle(100);
        registered[name] = [...rec.registrations];
    }
}, 120_000);

describe("a stack made under the former component tokens maps onto the new ones", () => {
    it("every component registers as copilot-fleet:index:<class name>", () => {
        const types = new Set(Object.values(registered).flatMap((rs) => rs.map((r) => r.type).filter((t) => t.startsWith("copilot-fleet:"))));
        expect(types.size).toBeGreaterThanOrEqual(14);
        for (const t of types) expect(t).toMatch(/^copilot-fleet:index:[A-Z][A-Za-z]+$/);
    });

    for (const name of Object.keys(RESOURCE_SET_CASES)) {
        it(name, () => {
            const old = OLD_URNS[name];
            expect(old.length).toBeGreaterThan(10);
            const byOld = claims(registered[name], new Set(old));
            const unclaimed = old.filter((u) => !byOld.has(u));
            expect(unclaimed, "old URNs no new resource claims (they would be deleted)").toEqual([]);
            for (const [u, claimants] of byOld) expect(claimants, u).toHaveLength(1);
            // Not vacuous: every one of them is claimed through an alias, none by an unchanged URN.
            for (const [u, [claimant]] of byOld) expect(claimant, u).not.toBe(u);
        });
    }
});
