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
