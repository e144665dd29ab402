/**
 * Per-user mode promises that one user's server can neither read another's sessions nor use another's
 * credentials. Across a stack that means: no volume and no secret is referenced by the servers of two
 * different users (the user is the `copilot-fleet.github.com/user` label on Kubernetes and docker,
 * the same tag on ACI container groups).
 */
import { createHash } from "crypto";
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { stackContainerGroups } from "./aci";
import { ContainerView, isSensitiveEnvName, LABEL } from "./common";
import { stackDockerContainers } from "./docker";
import { containerViews, secretsReferenced, stackWorkloads } from "./kubernetes";
import { ENV } from "../components/contract/server";

interface UserServer {
    readonly user: string;
    readonly resource: PolicyResource;
    readonly where: string;
    /** Comparable ids of volumes and secrets (secret values are hashed, never printed). */
    readonly uses: readonly { id: string; label: string }[];
}

const MODEL_CREDENTIALS: readonly string[] = [ENV.githubToken, ENV.providerApiKey];

function digest(value: string): string {
    return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

function viewUses(v: ContainerView): { id: string; label: string }[] {
    const uses: { id: string; label: string }[] = [];
    for (const m of v.mounts()) {
        if ((m.kind === "shared" || m.kind === "secret") && m.storageId) uses.push({ id: m.storageId, label: `volume ${m.storageId}` });
    }
    // Inline credentials (ACI secureValue, docker envs): the same value for two users is a shared secret.
    // Model credentials are exempt: config lets operators give every user the same service token
    // (users[].githubToken is optional), as the Kubernetes fleet does with one Secret per user.
    for (const e of v.env()) {
        if (isSensitiveEnvName(e.name) && !MODEL_CREDENTIALS.includes(e.name) && e.value) uses.push({ id: `value:${digest(e.value)}`, label: `the same ${e.name} value` });
    }
    return uses;
}

export function perUserServers(resources: readonly PolicyResource[]): UserServer[] {
    const out: UserServer[] = [];
    for (const { resource, workload } of stackWorkloads(resources)) {
        const user = workload.podLabels[LABEL.user];
        const servers = containerViews(workload).filter((v) => v.isServer());
        if (user === undefined || servers.length === 0) continue;
        const uses = [
            ...servers.flatMap(viewUses),
            ...secretsReferenced(workload).map((s) => ({ id: `secret:${s}`, label: `Secret ${s}` })),
        ];
        out.push({ user, resource, where: `${workload.kind} "${workload.name}"`, uses });
    }
    for (const { resource, views } of stackContainerGroups(resources)) {
        for (const v of views.filter((x) => x.isServer())) {
            const user = v.labels()[LABEL.user];
            if (user !== undefined) out.push({ user, resource, where: v.where, uses: viewUses(v) });
        }
    }
    for (const { resource, view } of stackDockerContainers(resources)) {
        const user = view.labels()[LABEL.user];
        if (user !== undefined && view.isServer()) out.push({ user, resource, where: view.where, uses: viewUses(view) });
    }
    return out;
}

export const perUserIsolation: StackValidationPolicy = {
    name: "copilot-isolation-per-user",
    description:
        "Per-user mode: no volume, Secret or connection-token value is shared between two users' Copilot CLI servers, so no user can read another's sessions or reach another's server. " +
        "A deliberately shared model credential (the service COPILOT_GITHUB_TOKEN when users[].githubToken is unset) is not flagged by value.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, report) => {
        const servers = perUserServers(args.resources);
        if (servers.length === 0) args.notApplicable("no per-user Copilot CLI servers");
        const owners = new Map<string, { label: string; users: Set<string>; first: UserServer }>();
        for (const s of servers) {
            for (const u of s.uses) {
                const entry = owners.get(u.id) ?? { label: u.label, users: new Set<string>(), first: s };
                entry.users.add(s.user);
                owners.set(u.id, entry);
            }
        }
        for (const { label, users, first } of owners.values()) {
            if (users.size < 2) continue;
            report(
                `${label} is used by the servers of users ${[...users].sort().join(", ")}: give each user their own volume, Secret and connection token ` +
                    "(per-user mode generates them per user), because a shared one lets one user read another's sessions or use their credentials.",
                first.resource.urn,
            );
        }
    },
};
