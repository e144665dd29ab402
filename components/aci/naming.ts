/**
 * Azure names for every id the config parser accepts (user ids are lowercase DNS labels of at most 40
 * characters, so `a--b` and a trailing digit run are possible). Pure functions; tests call them with
 * the longest and oddest ids.
 *
 * Azure's rules (as documented for each resource provider):
 * - container groups: 1–63 lowercase letters, digits and single hyphens, not starting or ending with one;
 * - file shares: 3–63 lowercase letters, digits and single hyphens, starting with a letter or digit;
 * - storage accounts: 3–24 lowercase letters and digits, globally unique;
 * - container registries: 5–50 letters and digits, globally unique.
 */
import { createHash } from "crypto";

export const CONTAINER_GROUP_NAME_MAX = 63;
export const SHARE_NAME_MAX = 63;
export const STORAGE_ACCOUNT_NAME_MAX = 24;
export const REGISTRY_NAME_MAX = 50;
/** Characters of the stable hash added where a name had to be shortened or cleaned. */
const HASH_CHARS = 6;

export const CONTAINER_GROUP_NAME = /^(?=.{1,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
export const SHARE_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
export const STORAGE_ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

export function stableHash(text: string, chars: number): string {
    return createHash("sha256").update(text).digest("hex").slice(0, chars);
}

/**
 * `<prefix>-<id>` as a hyphenated Azure name of at most `max` characters. Ids that already fit are
 * used as they are (readable names); otherwise runs of hyphens collapse, the name is cut, and a hash
 * of the full original id is appended so two ids never end up with one name.
 */
export function hyphenatedName(prefix: string, id: string, max: number): string {
    const plain = `${prefix}-${id}`;
    if (plain.length <= max && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(plain)) return plain;
    const suffix = stableHash(id, HASH_CHARS);
    const cleaned = plain.replace(/[^a-z0-9-]/g, "").replace(/-+/g, "-").replace(/-$/, "");
    const head = cleaned.slice(0, max - HASH_CHARS - 1).replace(/-+$/, "");
    return `${head}-${suffix}`;
}

/** Name of a shared fleet's session-state share (AciStorage `shares: { fleet: SHARED_SHARE_NAME }`). */
export const SHARED_SHARE_NAME = "session-state";

/** Container group name of a per-user server. */
export function userGroupName(fleet: string, userId: string): string {
    return hyphenatedName(`${fleet}-u`, userId, CONTAINER_GROUP_NAME_MAX);
}

/** File share of a per-user server (`u-<id>`: the account is the fleet's, so the fleet name is not repeated). */
export function userShareName(userId: string): string {
    return hyphenatedName("u", userId, SHARE_NAME_MAX);
}

/**
 * Globally unique alphanumeric name (storage account, registry): a readable alphanumeric prefix and
 * a hash of `scope` (the subscription and resource group, so the same stack in two subscriptions
 * never collides, and one stack always gets the same name).
 */
export function globalName(prefix: string, scope: string, max: number): string {
    const hashChars = 13;
    const head = prefix.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, max - hashChars);
    return `${head}${stableHash(scope.toLowerCase(), hashChars)}`;
}

/** Names built from user ids must stay distinct; a clash would put two users on one share. */
export function assertDistinct(kind: string, names: ReadonlyMap<string, string>): void {
    const seen = new Map<string, string>();
    for (const [id, name] of names) {
        const other = seen.get(name);
        if (other !== undefined) throw new Error(`users ${JSON.stringify(other)} and ${JSON.stringify(id)} map to the same ${kind} name ${JSON.stringify(name)}; rename one of them`);
        seen.set(name, id);
    }
}

/** Resource group created for a stack: `<project>-<stack>`, in the characters ARM accepts. */
export function stackResourceGroupName(project: string, stack: string): string {
    const name = `${project}-${stack}`.replace(/[^-\w.()]/g, "-").slice(0, 90);
    return name.endsWith(".") ? `${name.slice(0, -1)}-` : name;
}
