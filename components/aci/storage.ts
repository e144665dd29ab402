/**
 * Session-state storage: one storage account per fleet, hardened, with one Azure Files share for a
 * shared fleet or one per user.
 */
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { quantityBytes } from "../contract/quantities";
import { nameOf } from "./group";

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

export interface AciStorageArgs {
    readonly resourceGroupName: pulumi.Input<string>;
    readonly location?: pulumi.Input<string>;
    /** Globally unique account name (components/aci/naming.ts globalName). */
    readonly accountName: pulumi.Input<string>;
    /** Share names, keyed by a stable id (`"fleet"`, or the user id). */
    readonly shares: ReadonlyMap<string, string>;
    /** Quota of each share, in GiB. */
    readonly quotaGib: number;
    readonly tags?: Record<string, string>;
    /**
     * `protect` on the account and every share: deleting the account deletes its shares, so both are
     * guarded; no update or destroy deletes or replaces them. Default true.
     */
    readonly protect?: boolean;
}

export interface ShareRef {
    readonly storageAccountName: pulumi.Output<string>;
    readonly shareName: pulumi.Output<string>;
    readonly storageAccountKey: pulumi.Output<string>;
}

export class AciStorage extends pulumi.ComponentResource {
    public readonly accountName: pulumi.Output<string>;
    /** By the ids of `args.shares`. */
    public readonly shares: ReadonlyMap<string, ShareRef>;

    constructor(name: string, args: AciStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("copilot-fleet:aci:Storage", name, {}, opts);
        const protect = args.protect ?? true;
        const account = new storage.StorageAccount(
            `${name}-account`,
            { resourceGroupName: args.resourceGroupName, location: args.location, accountName: args.accountName, ...STORAGE_ACCOUNT_SETTINGS, tags: args.tags },
            { parent: this, protect },
        );
        const accountName = nameOf(account, args.accountName);
        const key = pulumi.secret(
            storage.listStorageAccountKeysOutput({ resourceGroupName: args.resourceGroupName, accountName }, { parent: this }).apply((r) => r.keys[0]?.value ?? ""),
        );
        const shares = new Map<string, ShareRef>();
        for (const [id, shareName] of args.shares) {
            const share = new storage.FileShare(
                `${name}-${shareName}`,
                { resourceGroupName: args.resourceGroupName, accountName, shareName, shareQuota: args.quotaGib, enabledProtocols: "SMB" },
                { parent: this, protect },
            );
            shares.set(id, { storageAccountName: accountName, shareName: nameOf(share, shareName), storageAccountKey: key });
        }
        this.accountName = accountName;
        this.shares = shares;
        this.registerOutputs({ accountName: this.accountName });
    }
}
