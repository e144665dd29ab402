/**
 * The parts of a Pulumi package schema the component-package tests read, and the assertions the
 * inferred schema (test/library/schema.test.ts) and the one the engine serves (test/engine/
 * package.test.ts) must both pass.
 */
import { expect } from "vitest";

export interface SchemaProp {
    type?: string;
    $ref?: string;
    description?: string;
    secret?: boolean;
    items?: SchemaProp;
}
export interface SchemaResource {
    isComponent?: boolean;
    inputProperties: Record<string, SchemaProp>;
    requiredInputs: string[];
    properties: Record<string, SchemaProp>;
    required?: string[];
}
export interface SchemaType {
    type?: string;
    properties?: Record<string, SchemaProp>;
    required?: string[];
    enum?: { value: unknown }[];
}
export interface PackageSchema {
    name?: string;
    version?: string;
    resources: Record<string, SchemaResource>;
    types: Record<string, SchemaType>;
}

/** PerUserFleet: a component whose required inputs are image, namespace and users of { id, githubToken?, suspended? }. */
export function expectPerUserFleetSchema(schema: PackageSchema): SchemaResource {
    const r = schema.resources["copilot-fleet:index:PerUserFleet"];
    expect(r.isComponent).toBe(true);
    expect([...r.requiredInputs].sort()).toEqual(["image", "namespace", "users"]);
    expect(r.inputProperties.users.items?.$ref).toBe("#/types/copilot-fleet:index:UserArgs");
    const user = schema.types["copilot-fleet:index:UserArgs"];
    expect(Object.keys(user.properties ?? {}).sort()).toEqual(["githubToken", "id", "suspended"]);
    expect(user.required).toEqual(["id"]);
    return r;
}
