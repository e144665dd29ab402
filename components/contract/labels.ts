/**
 * Label (Kubernetes) and tag (Azure) keys: one vocabulary on every platform, so policies, dashboards
 * and queries read the same keys everywhere. Platform-neutral on purpose: importing it loads no provider.
 */
export const LABEL_KEYS = {
    name: "app.kubernetes.io/name",
    component: "app.kubernetes.io/component",
    instance: "app.kubernetes.io/instance",
    partOf: "app.kubernetes.io/part-of",
    version: "app.kubernetes.io/version",
    managedBy: "app.kubernetes.io/managed-by",
    /** Per-user mode: the user a server belongs to. */
    user: "copilot-fleet.github.com/user",
} as const;

/**
 * The Azure tag key for a label key. Azure refuses tag names with `<`, `>`, `%`, `&`, `\`, `?` or `/`
 * (Azure Resource Manager docs, "Use tags to organize your Azure resources", Limitations), and every
 * label key has a `/`; it becomes a `.`: `app.kubernetes.io/instance` is the tag
 * `app.kubernetes.io.instance`. Same words, one character apart, on every ACI resource.
 */
export function azureTagKey(labelKey: string): string {
    return labelKey.replace(/\//g, ".");
}

/** Characters Azure refuses in a tag name (the same docs). */
export const AZURE_TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

/** Labels as Azure tags: every key through {@link azureTagKey}. */
export function azureTags(labels: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(labels).map(([k, v]) => [azureTagKey(k), v]));
}
