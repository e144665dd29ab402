/**
 * Rules for the containers themselves: credentials, image pinning, probes, resources, privileges and
 * where shared storage is mounted. Each rule covers Kubernetes workloads, docker containers and ACI
 * container groups through the neutral views of adapters.ts.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { containerValidators, perPlatform } from "./adapters";
import { ContainerView, imagePinProblem, isSameOrAncestor, isSensitiveEnvName, isSessionStatePath, LABEL, LOCAL_ONLY_PATHS, SESSION_PATH } from "./common";
import { ENV, SERVER_WRAPPER } from "../components/contract/server";

/** Servers, Redis and anything else our program labels as part of the fleet (never init containers). */
export function isFleetContainer(v: ContainerView): boolean {
    return !v.init && (v.isServer() || v.isRedis() || v.labels()[LABEL.partOf] === "copilot-fleet");
}

/** `containerValidators` over the Copilot CLI server containers only; not applicable where there are none. */
function serverValidators(check: (servers: ContainerView[], report: (message: string) => void) => void): ResourceValidationPolicy["validateResource"] {
    return containerValidators((views, args, report) => {
        const servers = views.filter((v) => v.isServer());
        if (servers.length === 0) args.notApplicable("no Copilot CLI server container");
        check(servers, report);
    });
}

export const connectionToken: ResourceValidationPolicy = {
    name: "copilot-server-connection-token",
    description:
        "Every Copilot CLI server sets COPILOT_CONNECTION_TOKEN from a secret store; without it the headless server accepts any client that reaches its port.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: serverValidators((servers, report) => {
        for (const v of servers) {
            const token = v.env().find((e) => e.name === ENV.connectionToken);
            const fix = perPlatform(v, {
                kubernetes: `add env { name: "${ENV.connectionToken}", valueFrom: { secretKeyRef: { name: <secret>, key: "connection-token" } } }`,
                aci: `add environmentVariables { name: "${ENV.connectionToken}", secureValue: <token> }`,
                docker: `add "${ENV.connectionToken}=<token>" to envs (from a Pulumi secret)`,
            });
            if (token === undefined) {
                report(`${v.where} has no ${ENV.connectionToken}: ${fix}. Without it the server accepts every client that can reach port 4321.`);
            } else if (token.source === "other-ref" || (token.source !== "secret" && (token.value ?? "") === "")) {
                report(`${v.where} sets ${ENV.connectionToken} without a usable secret value: ${fix}. An empty or ConfigMap-sourced token is no authentication.`);
            }
        }
    }),
};

export const noPlainSecrets: ResourceValidationPolicy = {
    name: "copilot-secrets-no-plain-values",
    description:
        "Tokens, keys, passwords and secrets (COPILOT_CONNECTION_TOKEN, COPILOT_GITHUB_TOKEN, COPILOT_PROVIDER_API_KEY and any env named *TOKEN*, *KEY*, " +
        "*PASSWORD*, *SECRET*) reach containers only through a secret store: Kubernetes valueFrom.secretKeyRef, ACI secureValue. Docker has no secret " +
        "store for plain containers and a policy cannot see whether an input was a Pulumi secret (the engine unwraps secrets before policies run), so on " +
        "Docker this checks what is checkable: the container marks `envs` as an additional secret output so state and previews keep them encrypted, " +
        "and no credential value is repeated on the command line or in labels.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: containerValidators((views, args, report) => {
        if (views.length === 0) args.notApplicable("no containers");
        for (const v of views) {
            const sensitive = v.env().filter((e) => isSensitiveEnvName(e.name));
            for (const e of sensitive) {
                if (v.platform === "kubernetes" && e.source !== "secret") {
                    report(
                        `${v.where} sets ${e.name} ${e.source === "plain" ? "as a plain value" : "from a ConfigMap or field reference"}: use valueFrom.secretKeyRef ` +
                            "to a Secret instead, because plain values are stored in the pod spec, shown by `kubectl get -o yaml` and in every preview diff.",
                    );
                }
                if (v.platform === "aci" && e.source !== "secret") {
                    report(
                        `${v.where} sets ${e.name} with "value": use "secureValue" instead, because "value" is returned by the Azure API and shown in the portal, ` +
                            "while secureValue is write-only.",
                    );
                }
            }
            if (v.platform === "docker" && sensitive.length > 0) {
                const secretOutputs = args.opts.additionalSecretOutputs ?? [];
                if (!secretOutputs.includes("envs")) {
                    report(
                        `${v.where} passes ${sensitive.map((e) => e.name).join(", ")} in envs without additionalSecretOutputs: ["envs"]: add that resource ` +
                            "option so the values are encrypted in state and masked in previews even when an input was not marked secret.",
                    );
                }
                const visible = [...v.commandLine(), ...Object.values(v.labels())];
                for (const e of sensitive) {
                    if (e.value && e.value.length >= 8 && visible.some((s) => s.includes(e.value as string))) {
                        report(`${v.where} repeats the value of ${e.name} in its command or labels: remove it, because both are visible to \`docker ps\` and \`docker inspect\`.`);
                    }
                }
            }
        }
    }),
};

export const imagePinned: ResourceValidationPolicy = {
    name: "copilot-image-pinned",
    description:
        "Container images are pinned to an exact version tag or a digest (no `latest`, no missing or floating tag), so every replica and every restart runs the reviewed CLI.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: containerValidators((views, args, report) => {
        if (views.length === 0) args.notApplicable("no containers");
        for (const v of views) {
            const problem = imagePinProblem(v.image());
            if (problem !== undefined) {
                report(
                    `${v.where}: image ${problem}. Pin it to a digest (repo@sha256:...) or an exact version tag (e.g. :1.0.102), because a moving tag lets ` +
                        "replicas run different CLI versions that may not read each other's session state or match the SDK's protocol version.",
                );
            }
        }
    }),
};

export const probes: ResourceValidationPolicy = {
    name: "copilot-server-probes",
    description:
        "Copilot CLI servers and the fleet's other containers declare readiness and liveness checks, so traffic goes only to servers that answer and hung servers are restarted.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: containerValidators((views, args, report) => {
        const fleet = views.filter(isFleetContainer);
        if (fleet.length === 0) args.notApplicable("no Copilot fleet containers");
        for (const v of fleet) {
            const p = v.probes();
            const fix = perPlatform(v, {
                kubernetes: `add ${[!p.readiness && "readinessProbe", !p.liveness && "livenessProbe"].filter(Boolean).join(" and ")} (exec /usr/local/bin/copilot-healthcheck for the CLI)`,
                aci: `add ${[!p.readiness && "readinessProbe", !p.liveness && "livenessProbe"].filter(Boolean).join(" and ")} with exec.command (the CLI image's /usr/local/bin/copilot-healthcheck)`,
                docker: "add healthcheck.tests (docker has one health check, used for both; for the CLI: [\"CMD\", \"/usr/local/bin/copilot-healthcheck\"])",
            });
            if (!p.readiness || !p.liveness) {
                report(
                    `${v.where} has no ${!p.readiness && !p.liveness ? "readiness or liveness" : !p.readiness ? "readiness" : "liveness"} check: ${fix}. ` +
                        "Without one a starting or hung server still gets connections and is never restarted.",
                );
            }
        }
    }),
};

export const resources: ResourceValidationPolicy = {
    name: "copilot-server-resources",
    description:
        "Copilot CLI servers and the fleet's other containers declare CPU and memory requests and limits (Docker: memory limit, memory reservation and a CPU limit; " +
        "it has no CPU request), so the scheduler packs them honestly and one long session cannot starve a node.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: containerValidators((views, args, report) => {
        const fleet = views.filter(isFleetContainer);
        if (fleet.length === 0) args.notApplicable("no Copilot fleet containers");
        for (const v of fleet) {
            const r = v.resources();
            const names = perPlatform(v, {
                kubernetes: "resources.requests.cpu|resources.requests.memory|resources.limits.cpu|resources.limits.memory",
                aci: "resources.requests.cpu|resources.requests.memoryInGB|resources.limits.cpu|resources.limits.memoryInGB",
                docker: "-|memoryReservation|cpus|memory",
            }).split("|");
            const missing = [r.cpuRequest, r.memoryRequest, r.cpuLimit, r.memoryLimit]
                .map((d, i) => (d === false ? names[i] : undefined))
                .filter((x): x is string => x !== undefined);
            if (missing.length > 0) {
                report(
                    `${v.where} is missing ${missing.join(", ")}: set them (components/contract/server.ts DEFAULT_RESOURCES: 250m/512Mi requested, 2 CPU/2Gi limit), because the CLI ` +
                        "holds ~250-500 MB per replica and grows with sessions; without limits one long session can exhaust the node.",
                );
            }
        }
    }),
};

export const nonRoot: ResourceValidationPolicy = {
    name: "copilot-server-non-root",
    description:
        "Copilot CLI servers and Redis run as a non-root user, unprivileged, without privilege escalation. On ACI Standard SKU there is no security context " +
        "to declare: the image's USER (uid 10001 in our image) keeps it non-root, which a policy cannot see, so ACI is checked only where a context is declared.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: containerValidators((views, args, report) => {
        const targets = views.filter((v) => !v.init && (v.isServer() || v.isRedis()));
        if (targets.length === 0) args.notApplicable("no Copilot CLI server or Redis container");
        for (const v of targets) {
            const p = v.privilege();
            const fixes: string[] = [];
            if (p.privileged) fixes.push(perPlatform(v, { kubernetes: "securityContext.privileged: false", aci: "securityContext.privileged: false", docker: "privileged: false" }));
            if (p.runsAsRoot === "yes" || (p.runsAsRoot === "unknown" && p.declarable)) {
                fixes.push(
                    perPlatform(v, {
                        kubernetes: "securityContext.runAsNonRoot: true and runAsUser: 10001 (pod or container)",
                        aci: "securityContext.runAsUser: 10001",
                        docker: 'user: "10001:10001"',
                    }),
                );
            }
            if (p.escalation === "yes" || (p.escalation === "unknown" && p.declarable)) {
                fixes.push(
                    perPlatform(v, {
                        kubernetes: "securityContext.allowPrivilegeEscalation: false",
                        aci: "securityContext.allowPrivilegeEscalation: false",
                        docker: 'securityOpts: ["no-new-privileges:true"]',
                    }),
                );
            }
            if (fixes.length > 0) {
                report(
                    `${v.where} may run as root or gain privileges: set ${fixes.join(", ")}, because the server runs model-driven tools and holds tokens; ` +
                        "a root or privileged container turns a tool escape into a node compromise.",
                );
            }
        }
    }),
};

export const sessionStateMount: ResourceValidationPolicy = {
    name: "copilot-storage-session-state-mount",
    description:
        `Shared storage is mounted on a Copilot CLI server only at the session-state path (${SESSION_PATH}). COPILOT_HOME also holds the SQLite ` +
        "session store and logs, which fail with \"database is locked\" on SMB/NFS, so nothing shared may be mounted at COPILOT_HOME, HOME or elsewhere.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: serverValidators((servers, report) => {
        for (const v of servers) {
            for (const m of v.mounts()) {
                if (m.kind !== "shared" || isSessionStatePath(m.path)) continue;
                const coversLocalState = LOCAL_ONLY_PATHS.some((p) => isSameOrAncestor(m.path, p));
                if (coversLocalState || !m.readOnly) {
                    report(
                        `${v.where} mounts shared volume "${m.volume}" at ${m.path || "(no path)"}: mount it at ${SESSION_PATH} only` +
                            (coversLocalState
                                ? ", because that path holds the CLI's SQLite session store, which fails with \"database is locked\" on network storage."
                                : ", because the fleet shares only session state; anything else shared between replicas is unreviewed state."),
                    );
                }
            }
        }
    }),
};

export const toolGuard: ResourceValidationPolicy = {
    name: "copilot-server-tool-guard",
    description:
        `Every Copilot CLI server starts through the image's ${SERVER_WRAPPER} ("${SERVER_WRAPPER} copilot --headless ..."), which installs the ` +
        "tool guard: a preToolUse hook that refuses shell and cross-session tools and keeps file tools in each session's own folder. Without it, any " +
        "session created with approveAll can read every other session on the server and the server's tokens.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: serverValidators((servers, report) => {
        for (const v of servers) {
            const line = v.commandLine();
            const fix = `start it with "${SERVER_WRAPPER} copilot --headless ..." (components/contract/server.ts serverArgs)`;
            if (line.length === 0) {
                report(`${v.where} runs its image's default command, so whether the tool guard runs depends on the image: ${fix}.`);
                continue;
            }
            const cli = line.findIndex((a) => /(^|\/)copilot$/.test(a));
            if (cli <= 0 || !new RegExp(`(^|/)${SERVER_WRAPPER}$`).test(line[cli - 1])) {
                report(`${v.where} starts the CLI without ${SERVER_WRAPPER}: ${fix}, because without the tool guard every session's agent reaches every other session and the server's tokens.`);
            }
        }
    }),
};
