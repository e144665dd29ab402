/**
 * Storage rules: with more than one replica every server must see the same session-state folder
 * (that is what makes cross-replica resume work), and Azure storage accounts that hold it
 * are locked down.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { isStorageAccountType, stackContainerGroups, STORAGE_ACCOUNT_TYPE, StorageAccountProps } from "./aci";
import { ContainerView, isSessionStatePath, LABEL, SESSION_PATH } from "./common";
import { stackDockerContainers } from "./docker";
import { containerViews, namespaceOf, stackWorkloads, TYPES } from "./kubernetes";

type PvcSpec = pulumi.Unwrap<k8s.types.input.core.v1.PersistentVolumeClaimSpec>;
type ObjectMeta = pulumi.Unwrap<k8s.types.input.meta.v1.ObjectMeta>;
type HpaSpec = pulumi.Unwrap<k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec>;

function sessionMount(v: ContainerView) {
    return v.mounts().find((m) => isSessionStatePath(m.path));
}

function checkKubernetes(resources: Parameters<StackValidationPolicy["validateStack"]>[0]["resources"], report: ReportViolation): number {
    const claims = new Map<string, PvcSpec | undefined>();
    for (const r of resources.filter((x) => x.type === TYPES.pvc)) {
        const p = r.props as { metadata?: ObjectMeta; spec?: PvcSpec };
        claims.set(`${namespaceOf(p.metadata, r.provider)}/${p.metadata?.name ?? r.name}`, p.spec);
    }
    const autoscaled = new Map<string, number>();
    for (const r of resources.filter((x) => x.type === TYPES.hpa)) {
        const p = r.props as { metadata?: ObjectMeta; spec?: HpaSpec };
        if (p.spec) autoscaled.set(`${namespaceOf(p.metadata, r.provider)}/${p.spec.scaleTargetRef.kind}/${p.spec.scaleTargetRef.name}`, p.spec.maxReplicas);
    }
    let checked = 0;
    for (const { resource, workload } of stackWorkloads(resources)) {
        const servers = containerViews(workload).filter((v) => v.isServer());
        if (servers.length === 0) continue;
        const maxReplicas = Math.max(workload.replicas ?? 1, autoscaled.get(`${workload.namespace}/${workload.kind}/${workload.name}`) ?? 0);
        const multi = workload.kind === "DaemonSet" || maxReplicas > 1;
        if (!multi) continue;
        checked++;
        const what = `${workload.kind} "${workload.name}" runs up to ${workload.kind === "DaemonSet" ? "one server per node" : `${maxReplicas} replicas`}`;
        const why = "because a session created on one replica must be resumable on any other, with its history.";
        for (const v of servers) {
            const m = sessionMount(v);
            if (m === undefined || m.kind !== "shared") {
                report(`${what} but ${v.where} keeps ${SESSION_PATH} on ${m ? "local scratch" : "the container's own disk"}: mount a ReadWriteMany PersistentVolumeClaim there, ${why}`, resource.urn);
            } else if (m.perPodClaim) {
                report(`${what} but ${SESSION_PATH} comes from volumeClaimTemplate "${m.volume}" (one claim per pod): use one shared ReadWriteMany claim in spec.template volumes, ${why}`, resource.urn);
            } else if (m.storageId?.startsWith("pvc:")) {
                const key = m.storageId.slice("pvc:".length);
                if (!claims.has(key)) {
                    report(`${what} on claim ${key}, which is not declared in this stack so its access mode cannot be checked: declare the ReadWriteMany claim in the stack, ${why}`, resource.urn);
                } else if (!(claims.get(key)?.accessModes ?? []).includes("ReadWriteMany")) {
                    report(`${what} but claim ${key} is not ReadWriteMany: set accessModes ["ReadWriteMany"] on an RWX storage class (azurefile-csi, NFS, EFS), ${why}`, resource.urn);
                }
            }
        }
    }
    return checked;
}

/** Groups of non-per-user servers by fleet instance; each group with more than one member must share one store. */
function checkSharedStore(
    servers: { urn: string; where: string; labels: Readonly<Record<string, string>>; storageId?: string }[],
    expected: string,
    report: ReportViolation,
): number {
    const groups = new Map<string, typeof servers>();
    for (const s of servers.filter((x) => x.labels[LABEL.user] === undefined)) {
        const key = s.labels[LABEL.instance] ?? "";
        groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    let checked = 0;
    for (const [instance, members] of groups) {
        if (members.length < 2) continue;
        checked++;
        const ids = new Set(members.map((m) => m.storageId ?? ""));
        for (const m of members.filter((x) => x.storageId === undefined)) {
            report(
                `${m.where} is one of ${members.length} servers of fleet "${instance || "(unlabelled)"}" but has no ${expected} at ${SESSION_PATH}: mount the fleet's shared ${expected} there, ` +
                    "because a session created on one replica must be resumable on any other.",
                m.urn,
            );
        }
        if (ids.size > 1 && !ids.has("")) {
            report(
                `The ${members.length} servers of fleet "${instance || "(unlabelled)"}" mount different stores at ${SESSION_PATH} (${[...ids].join(", ")}): mount one shared ${expected}, ` +
                    "because replicas on different stores cannot resume each other's sessions.",
                members[0].urn,
            );
        }
    }
    return checked;
}

export const sharedSessionState: StackValidationPolicy = {
    name: "copilot-storage-shared-session-state",
    description:
        `More than one server replica ⇒ every replica mounts the same shared store at ${SESSION_PATH}: a ReadWriteMany PersistentVolumeClaim on Kubernetes, ` +
        "one Azure Files share on ACI, one named volume on Docker. Fleets are told apart by the app.kubernetes.io/instance label/tag; per-user servers are exempt.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        let checked = checkKubernetes(args.resources, report);
        const aciServers = stackContainerGroups(args.resources).flatMap(({ resource, views }) =>
            views
                .filter((v) => v.isServer())
                .map((v) => {
                    const m = sessionMount(v);
                    return { urn: resource.urn, where: v.where, labels: v.labels(), storageId: m?.storageId?.startsWith("azurefile:") ? m.storageId : undefined };
                }),
        );
        checked += checkSharedStore(aciServers, "Azure Files share", report);
        const dockerServers = stackDockerContainers(args.resources)
            .filter(({ view }) => view.isServer())
            .map(({ resource, view }) => ({ urn: resource.urn, where: view.where, labels: view.labels(), storageId: sessionMount(view)?.storageId }));
        checked += checkSharedStore(dockerServers, "named volume", report);
        if (checked === 0) args.notApplicable("no multi-replica Copilot CLI fleet");
    },
};

export const storageAccountSecure: ResourceValidationPolicy = {
    name: "copilot-storage-account-secure",
    description:
        "Azure storage accounts (they hold the ACI fleet's session state) set enableHttpsTrafficOnly: true, minimumTlsVersion TLS1_2 or newer and " +
        "allowBlobPublicAccess: false explicitly, since the service defaults differ between API versions.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, report) => {
        if (!isStorageAccountType(args.type)) {
            args.notApplicable(`Policy only applies to resources of type '${STORAGE_ACCOUNT_TYPE}'`);
            return;
        }
        const p = args.props as StorageAccountProps;
        const name = p.accountName ?? args.name;
        if (p.enableHttpsTrafficOnly !== true) {
            report(`Storage account "${name}": set enableHttpsTrafficOnly: true, because session transcripts and tokens in transit must not travel over plain HTTP/SMB 2.1.`);
        }
        if (p.minimumTlsVersion !== "TLS1_2" && p.minimumTlsVersion !== "TLS1_3") {
            report(`Storage account "${name}": set minimumTlsVersion: "TLS1_2" (was ${p.minimumTlsVersion ?? "unset"}), because TLS 1.0/1.1 are broken and the default depends on the API version.`);
        }
        if (p.allowBlobPublicAccess !== false) {
            report(`Storage account "${name}": set allowBlobPublicAccess: false (was ${p.allowBlobPublicAccess ?? "unset"}), because a public container would publish session state to anyone.`);
        }
    },
};
