/**
 * protectSessionState: the session-state storage (and nothing else) carries `protect`, so no
 * update or destroy deletes or replaces it; and nothing that changes often feeds a property that
 * would replace it.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RawConfig } from "../../components/config";
import { deployUnderMocks, Obj } from "../helpers/deployUnderMocks";
import { installMocks, MockRecorder } from "../helpers/pulumiMocks";

let rec: MockRecorder;

beforeAll(() => {
    rec = installMocks();
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const ACCOUNT = "azure-native:storage:StorageAccount";
const SHARE = "azure-native:storage:FileShare";
const VOLUME = "docker:index/volume:Volume";

const protectedResources = () =>
    rec.resources
        .filter((r) => r.opts.protect)
        .map((r) => `${r.type} ${r.name}`)
        .sort();

describe("kubernetes (default on)", () => {
    const shared: RawConfig = { platform: "kubernetes", githubToken: "gho_x", image: IMAGE };
    const perUser: RawConfig = { ...shared, mode: "per-user", users: '["alice","bob"]' };

    it("shared: the RWX claim, and only it", async () => {
        await deployUnderMocks(shared);
        expect(protectedResources()).toEqual([`${PVC} copilot-session-state`]);
    });

    it("per-user: each user's claim, and only those", async () => {
        await deployUnderMocks(perUser);
        expect(protectedResources()).toEqual([`${PVC} copilot-u-alice-state`, `${PVC} copilot-u-bob-state`]);
    });

    it("protectSessionState=false protects nothing", async () => {
        await deployUnderMocks({ ...shared, protectSessionState: "false" });
        expect(protectedResources()).toEqual([]);
        rec.clear();
        await deployUnderMocks({ ...perUser, protectSessionState: "false" });
        expect(protectedResources()).toEqual([]);
    });
});

describe("aci (default on)", () => {
    const aci: RawConfig = { platform: "aci", githubToken: "gho_x", image: IMAGE };

    it("shared: the storage account and the share (deleting the account deletes its shares)", async () => {
        await deployUnderMocks(aci);
        expect(protectedResources()).toEqual([`${ACCOUNT} copilot-storage-account`, `${SHARE} copilot-storage-session-state`].sort());
    });

    it("per-user: the account and every user's share, suspended users' too", async () => {
        await deployUnderMocks({ ...aci, mode: "per-user", users: JSON.stringify(["alice", { id: "bob", suspended: true }]) });
        const shares = rec.ofType(SHARE).map((r) => `${r.type} ${r.name}`);
        expect(shares).toHaveLength(2);
        expect(protectedResources()).toEqual([`${ACCOUNT} copilot-storage-account`, ...shares].sort());
    });

    it("protectSessionState=false protects nothing", async () => {
        await deployUnderMocks({ ...aci, protectSessionState: "false" });
        expect(protectedResources()).toEqual([]);
    });
});

describe("docker (default off)", () => {
    const dockerShared: RawConfig = { platform: "docker", githubToken: "gho_x", image: IMAGE };
    const dockerPerUser: RawConfig = { ...dockerShared, mode: "per-user", users: '["alice","bob"]' };

    it("protects nothing by default, so destroy cleans a laptop up", async () => {
        await deployUnderMocks(dockerShared);
        expect(protectedResources()).toEqual([]);
    });

    it("protectSessionState=true protects the volumes, and only them", async () => {
        await deployUnderMocks({ ...dockerShared, protectSessionState: "true" });
        expect(protectedResources()).toEqual([`${VOLUME} copilot-session-state`]);
        rec.clear();
        await deployUnderMocks({ ...dockerPerUser, protectSessionState: "true" });
        expect(protectedResources()).toEqual([`${VOLUME} copilot-u-alice-session-state`, `${VOLUME} copilot-u-bob-session-state`]);
    });

    it("a CLI upgrade leaves the volumes untouched (every volume property forces a new, empty one)", async () => {
        const volumes = async (raw: RawConfig) => {
            rec.clear();
            await deployUnderMocks(raw);
            return rec.ofType(VOLUME).map((r) => ({ name: r.name, inputs: r.inputs as Obj, ignoreChanges: r.opts.ignoreChanges }));
        };
        for (const raw of [dockerShared, dockerPerUser]) {
            const before = await volumes(raw);
            const after = await volumes({ ...raw, cliVersion: "1.0.103" });
            expect(after).toEqual(before);
            for (const v of before) {
                expect(v.inputs.labels.map((l: Obj) => l.label)).not.toContain("app.kubernetes.io/version");
                expect(v.ignoreChanges).toEqual(["labels"]);
            }
        }
    });
});

describe("claims and shares: nothing that changes often feeds them", () => {
    it("kubernetes: a CLI upgrade or a token change leaves each claim's spec as it was", async () => {
        const claims = async (raw: RawConfig) => {
            rec.clear();
            await deployUnderMocks(raw);
            return rec.ofType(PVC).map((r) => ({ name: r.name, spec: (r.inputs as Obj).spec }));
        };
        const base: RawConfig = { platform: "kubernetes", mode: "per-user", githubToken: "gho_x", image: IMAGE, users: '["alice"]' };
        const before = await claims(base);
        expect(await claims({ ...base, cliVersion: "1.0.103", image: "registry.example.com/copilot-cli:1.0.103", githubToken: "gho_y" })).toEqual(before);
    });

    it("aci: a CLI upgrade or a token change leaves the account and shares as they were", async () => {
        const storage = async (raw: RawConfig) => {
            rec.clear();
            await deployUnderMocks(raw);
            return rec.resources.filter((r) => r.type === ACCOUNT || r.type === SHARE).map((r) => ({ name: r.name, inputs: r.inputs }));
        };
        const base: RawConfig = { platform: "aci", githubToken: "gho_x", image: IMAGE };
        const before = await storage(base);
        expect(await storage({ ...base, cliVersion: "1.0.103", image: "registry.example.com/copilot-cli:1.0.103", githubToken: "gho_y" })).toEqual(before);
    });
});
