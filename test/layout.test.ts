/**
 * Moving code must not change what the program deploys: every representative stack's registered
 * resources (type, name, parent, inputs with secrets masked, options) and outputs equal the committed
 * test/fixtures/resource-sets.json. See test/helpers/resourceSet.ts for how to regenerate it.
 */
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { installMocks, MockRecorder } from "./helpers/pulumiMocks";
import { captureResourceSet, RESOURCE_SET_CASES, ResourceSet } from "./helpers/resourceSet";

const FIXTURE = path.join(__dirname, "fixtures", "resource-sets.json");
const update = process.env.UPDATE_RESOURCE_SETS === "1";

let rec: MockRecorder;
const current: Record<string, ResourceSet> = {};

beforeAll(async () => {
    rec = installMocks();
    for (const [name, raw] of Object.entries(RESOURCE_SET_CASES)) current[name] = JSON.parse(JSON.stringify(await captureResourceSet(rec, raw))) as ResourceSet;
    if (update) writeFileSync(FIXTURE, JSON.stringify(current, null, 2) + "\n");
}, 120_000);

describe("the registered resource set matches test/fixtures/resource-sets.json", () => {
    const committed = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, ResourceSet>;
    it("covers the same stacks", () => {
        expect(Object.keys(current).sort()).toEqual(Object.keys(committed).sort());
    });
    for (const name of Object.keys(RESOURCE_SET_CASES)) {
        it(name, () => {
            expect(current[name]).toEqual(committed[name]);
        });
    }
});
