/**
 * Session-state storage: one storage account per fleet, hardened, with one Azure Files share for a
 * shared fleet or one per user.
 */
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_STORAGE_SIZE } from "../config";
import { assertArgs } from "../config/args";
import { quantityBytes } from "../contract/quantities";
import { nameOf } from "./group";
import { assertDistinct } from "./naming";
import { componentType, withFormerType } from "../contract/types";

/** Kubernetes storage quantity (`10Gi`, `100G`) → share quota in GiB, rounded up (the config refuses sizes above the share limit, MAX_SHARE_QUOTA_GIB). */
export function shareQuotaGib(size: string): number {
    const gib = Math.max(1, Math.ceil(quantityBytes(size) / 2 ** 30 - 1e-9));
    return gib;
}

/** The storage account's security settings (policy/storage.ts checks the first three). */
export const STORAGE_ACCOUNT_SETTINGS = {
    kind: "StorageV2",
    sku: { name: "Standard_LRS" },
    enableHttpsTrafficOnly: true,
    minimumTlsVersion: "TLS1_2",
    allowBlobPublicAccess: false,
    // Shared-key access stays ON only because ACI mounts Azure Files with the account key: it has no
    // identity-based (Entra) SMB mount. The key goes to the container groups as a secret.
    allowSharedKeyAccess: true,
} as const;

/** What a consumer passes to {@link AciStorage}: plain values, each optional one with its default. */
export interface AciStorageArgs {
    readonly resourceGroupName: pulumi.Input<string>;
    /** Azure region. Default: the azure-native provider's `location`. */
    readonly location?: pulumi.Input<string>;
    /** Globally unique account name: 3–24 lowercase letters and digits (`globalName` makes one from a scope). */
    readonly accountName: pulumi.Input<string>;
    /** Share names, keyed by a stable id: `{ fleet: SHARED_SHARE_NAME }` for a shared fleet, `{ [userId]: userShareName(userId) }` per user. */
    readonly shares: Record<string, string>;
    /** Quota of each share, a Kubernetes quantity rounded up to whole GiB (at most 5 TiB). Default 10Gi. */
    readonly storageSize?: string;
    /** Tags of the account. Default none. */
    readonly tags?: Record<string, string>;
    /**
     * `protect` on the account and every share: deleting the account deletes its shares, so both are
     * guarded; no update or destroy deletes or replaces them. Default true.
     */
    readonly protectSessionState?: boolean;
}

export interface ShareRef {
    readonly storageAccountName: pulumi.Output<string>;
    readonly shareName: pulumi.Output<string>;
    readonly storageAccountKey: pulumi.Output<string>;
}

export class AciStorage extends pulumi.ComponentResource {
    public readonly accountName: pulumi.Output<string>;
    /** By the ids of `args.shares`: what AciSharedFleet's `share` and AciPerUserFleet's `shares` take. */
    public readonly shares: Record<string, ShareRef>;

    constructor(name: string, args: AciStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        assertArgs("AciStorage", name, "aci", "shared", { storageSize: args.storageSize });
        super(componentType("AciStorage"), name, {}, withFormerType("copilot-fleet:aci:Storage", opts));
        assertDistinct("file share", new Map(Object.entries(args.shares)));
        const protect = args.protectSessionState ?? true;
        const quotaGib = shareQuotaGib(args.storageSize ?? DEFAULT_STORAGE_SIZE);
        const account = new storage.StorageAccount(
            `${name}-account`,
            { resourceGroupName: args.resourceGroupName, location: args.location, accountName: args.accountName, ...STORAGE_ACCOUNT_SETTINGS, tags: args.tags },
            { parent: this, protect },
        );
        const accountName = nameOf(account, args.accountName);
        const key = pulumi.secret(
            storage.listStorageAccountKeysOutput({ resourceGroupName: args.resourceGroupName, accountName }, { parent: this }).apply((r) => r.keys?.[0]?.value ?? ""),
        );
        const shares: Record<string, ShareRef> = {};
        for (const [id, shareName] of Object.entries(args.shares)) {
            const share = new storage.FileShare(
                `${name}-${shareName}`,
                { resourceGroupName: args.resourceGroupName, accountName, shareName, shareQuota: quotaGib, enabledProtocols: "SMB" },
                { parent: this, protect },
            );
            shares[id] = { storageAccountName: accountName, shareName: nameOf(share, shareName), storageAccountKey: key };
        }
        this.accountName = accountName;
        this.shares = shares;
        this.registerOutputs({ accountName: this.accountName });
    }
}
