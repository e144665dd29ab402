/**
 * A changed token restarts exactly the servers that use it: the pods read tokens from a Secret by
 * secretKeyRef (resolved at container start), so the pod template carries a digest of that Secret's
 * data. Everything else stays byte-for-byte the same.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as pulumi from "@pulumi/pulumi";
import type { RawConfig } from "../../../components/config";
import { deployUnderMocks, Obj } from "../../helpers/deployUnderMocks";
import { installMocks, MockRecorder, promiseOf } from "../../helpers/pulumiMocks";

type RenderModule = typeof import("../../../components/kubernetes/render");

let rec: MockRecorder;
let render: RenderModule;
let pulumiMod: typeof pulumi;

beforeAll(async () => {
    rec = installMocks();
    render = await import("../../../components/kubernetes/render");
    pulumiMod = await import("@pulumi/pulumi");
});
beforeEach(() => rec.clear());

const IMAGE = "registry.example.com/copilot-cli:1.0.102";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SECRET = "kubernetes:core/v1:Secret";

/** Every recorded resource's inputs, by `type name`, after deploying `raw`. */
async function snapshot(raw: RawConfig): Promise<Map<string, Obj>> {
    rec.clear();
    await deployUnderMocks(raw);
    return new Map(rec.resources.map((r) => [`${r.type} ${r.name}`, r.inputs as Obj]));
}

/** Keys whose inputs differ between two snapshots (both must hold the same resources). */
function changed(a: Map<string, Obj>, b: Map<string, Obj>): string[] {
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    return [...a.keys()].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))).sort();
}

const digestOf = (d: Obj | undefined): string => d?.spec.template.metadata.annotations[render.CREDENTIALS_DIGEST_ANNOTATION];

/** The Deployment's inputs without the digest: what must not change. */
function withoutDigest(d: Obj | undefined): Obj {
    const copy = JSON.parse(JSON.stringify(d)) as Obj;
    delete copy.spec.template.metadata.annotations[render.CREDENTIALS_DIGEST_ANNOTATION];
    return copy;
}

describe("credentialsDigest", () => {
    it("is a secret, stable, independent of key order, and changes with any value", async () => {
        const d = render.credentialsDigest({ a: "1", b: "2" });
        expect(await pulumiMod.isSecret(d)).toBe(true);
        const value = await promiseOf(d);
        expect(value).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(await promiseOf(render.credentialsDigest({ b: "2", a: "1" }))).toBe(value);
        expect(await promiseOf(render.credentialsDigest({ a: "1", b: "3" }))).not.toBe(value);
        // Not a bare key=value concatenation: moving text across the key/value boundary changes it.
        expect(await promiseOf(render.credentialsDigest({ a: "1b", "": "2" }))).not.toBe(value);
    });
});

describe("shared fleet: a changed token rolls the servers, nothing else changes", () => {
    const base: RawConfig = { platform: "kubernetes", githubToken: "gho_service_one", connectionToken: "a".repeat(32), image: IMAGE, replicas: "3" };

    it("the same config gives the same pod template (no restart on every up)", async () => {
        const a = await snapshot(base);
        const b = await snapshot(base);
        expect(changed(a, b)).toEqual([]);
        expect(digestOf(a.get(`${DEPLOYMENT} copilot`))).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it.each([
        ["connectionToken", { connectionToken: "b".repeat(32) }],
        ["githubToken", { githubToken: "gho_service_two" }],
    ])("%s: only the Secret and the servers' pod-template digest change", async (_key, change) => {
        const a = await snapshot(base);
        const b = await snapshot({ ...base, ...change });
        expect(changed(a, b)).toEqual([`${SECRET} copilot-credentials`, `${DEPLOYMENT} copilot`].sort());
        const [da, db] = [a.get(`${DEPLOYMENT} copilot`), b.get(`${DEPLOYMENT} copilot`)];
        expect(digestOf(db)).not.toBe(digestOf(da));
        expect(withoutDigest(db)).toEqual(withoutDigest(da));
    });

    it("the digest holds no token, whole or in part", async () => {
        const a = await snapshot(base);
        const d = JSON.stringify(a.get(`${DEPLOYMENT} copilot`));
        expect(d).not.toContain("gho_service_one");
        expect(d).not.toContain("a".repeat(16));
    });

    it("Redis restarts when its password Secret changes too (same annotation)", async () => {
        const a = await snapshot(base);
        expect(digestOf(a.get(`${DEPLOYMENT} copilot-redis`))).toMatch(/^sha256:[0-9a-f]{64}$/);
    });
});

describe("per-user fleet: a changed token restarts only the servers that use it", () => {
    const users = (aliceToken: string) => JSON.stringify([{ id: "alice", githubToken: aliceToken }, "bob", "carol"]);
    const base: RawConfig = { platform: "kubernetes", mode: "per-user", githubToken: "gho_service_one", image: IMAGE, users: users("gho_alice_one") };

    it("alice's own token: alice's Secret and pod template, nobody else's", async () => {
        const a = await snapshot(base);
        const b = await snapshot({ ...base, users: users("gho_alice_two") });
        expect(changed(a, b)).toEqual([`${SECRET} copilot-u-alice-credentials`, `${DEPLOYMENT} copilot-u-alice`].sort());
        expect(withoutDigest(b.get(`${DEPLOYMENT} copilot-u-alice`))).toEqual(withoutDigest(a.get(`${DEPLOYMENT} copilot-u-alice`)));
    });

    it("the service token: the users who fall back to it (bob, carol), not alice", async () => {
        const a = await snapshot(base);
        const b = await snapshot({ ...base, githubToken: "gho_service_two" });
        expect(changed(a, b)).toEqual([
            `${SECRET} copilot-u-bob-credentials`,
            `${SECRET} copilot-u-carol-credentials`,
            `${DEPLOYMENT} copilot-u-bob`,
            `${DEPLOYMENT} copilot-u-carol`,
        ].sort());
    });
});
