/**
 * Docker adapter (@pulumi/docker `Container`). The Docker engine has no secret store for plain
 * containers: `envs` are `KEY=VALUE` strings that anyone with `docker inspect` can read. What a
 * policy can check here is limited to the resource definition (see the secret-env rule).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { PolicyResource, ReportViolation, ResourceValidation, ResourceValidationArgs, validateResourceOfType } from "@pulumi/policy";
import { commandLooksLikeCleanup, commandLooksLikeRedis, commandLooksLikeServer, ContainerView, EnvView, labelsSayRedis, labelsSayServer, MountView, pulumiTypeOf } from "./common";

export type DockerContainerProps = pulumi.Unwrap<docker.ContainerArgs>;

export const DOCKER_CONTAINER_TYPE = pulumiTypeOf(docker.Container);

export function dockerLabels(props: DockerContainerProps): Record<string, string> {
    const out: Record<string, string> = {};
    for (const l of props.labels ?? []) out[l.label] = l.value;
    return out;
}

/** `KEY=VALUE` → {name, value}; a bare `KEY` passes the engine host's variable through. */
export function parseEnvs(envs: readonly string[] | undefined): EnvView[] {
    return (envs ?? []).map((s) => {
        const eq = s.indexOf("=");
        return eq < 0 ? { name: s, source: "plain" as const } : { name: s.slice(0, eq), source: "plain" as const, value: s.slice(eq + 1) };
    });
}

function imageRepoName(image: string): string {
    const noDigest = image.split("@")[0];
    const last = noDigest.slice(noDigest.lastIndexOf("/") + 1);
    return last.split(":")[0];
}

function isNonRootUser(user: string | undefined): "yes" | "no" | "unknown" {
    if (user === undefined || user.trim() === "") return "unknown";
    const name = user.split(":")[0].trim();
    return name === "root" || name === "0" ? "yes" : "no";
}

export function dockerContainerView(name: string, props: DockerContainerProps): ContainerView {
    const labels = () => dockerLabels(props);
    const commandLine = () => [...(props.entrypoints ?? []), ...(props.command ?? [])];
    const mounts = (): MountView[] => [
        ...(props.volumes ?? []).map(
            (v): MountView => ({
                path: v.containerPath ?? "",
                volume: v.volumeName ?? v.hostPath ?? v.fromContainer ?? "",
                kind: "shared",
                readOnly: v.readOnly === true,
                storageId: v.volumeName ? `docker-volume:${v.volumeName}` : v.hostPath ? `bind:${v.hostPath}` : undefined,
            }),
        ),
        ...(props.mounts ?? []).map(
            (m): MountView => ({
                path: m.target,
                volume: m.source ?? "",
                kind: m.type === "tmpfs" ? "local" : "shared",
                readOnly: m.readOnly === true,
                storageId: m.type === "tmpfs" || !m.source ? undefined : `${m.type === "bind" ? "bind" : "docker-volume"}:${m.source}`,
            }),
        ),
    ];
    return {
        platform: "docker",
        init: false,
        where: `docker container "${name}"`,
        isServer: () =>
            !commandLooksLikeCleanup(commandLine()) &&
            (labelsSayServer(labels()) || commandLooksLikeServer(commandLine()) || /^copilot(-cli)?$/.test(imageRepoName(props.image ?? ""))),
        isRedis: () => labelsSayRedis(labels()) || commandLooksLikeRedis(commandLine(), props.image),
        labels,
        image: () => props.image,
        commandLine,
        env: () => parseEnvs(props.envs),
        mounts,
        probes: () => {
            const tests = props.healthcheck?.tests ?? [];
            const declared = tests.length > 0 && tests[0] !== "NONE";
            return { readiness: declared, liveness: declared };
        },
        resources: () => ({
            // Docker has no scheduler requests: the soft memory reservation is the nearest thing,
            // and there is no CPU equivalent (cpuShares is a relative weight, not a reservation).
            cpuRequest: "n/a",
            memoryRequest: typeof props.memoryReservation === "number" && props.memoryReservation > 0,
            cpuLimit: (typeof props.cpus === "string" && props.cpus.trim() !== "") || (typeof props.cpuQuota === "number" && props.cpuQuota > 0),
            memoryLimit: typeof props.memory === "number" && props.memory > 0,
        }),
        providedFiles: () => (props.uploads ?? []).map((u) => ({ path: u.file, content: u.content })),
        privilege: () => ({
            runsAsRoot: isNonRootUser(props.user),
            privileged: props.privileged === true,
            escalation: (props.securityOpts ?? []).some((o) => /^no-new-privileges(?:[:=]true)?$/.test(o.trim())) ? "no" : "unknown",
            declarable: true,
        }),
    };
}

export function dockerValidator(check: (view: ContainerView, props: DockerContainerProps, args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidation {
    return validateResourceOfType(docker.Container, (props, args, report) => check(dockerContainerView(props.name ?? args.name, props), props, args, report));
}

export function stackDockerContainers(resources: readonly PolicyResource[]): { resource: PolicyResource; props: DockerContainerProps; view: ContainerView }[] {
    return resources
        .filter((r) => r.type === DOCKER_CONTAINER_TYPE)
        .map((r) => {
            const props = r.props as DockerContainerProps;
            return { resource: r, props, view: dockerContainerView(props.name ?? r.name, props) };
        });
}
