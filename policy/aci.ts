/**
 * Azure adapter (@pulumi/azure-native v3). The provider is deliberately not imported: it is 136 MB
 * and not a dependency yet, so these validators match on the type token and read the documented
 * input shapes (azure-native flattens ARM's `properties`, so container fields sit on the container).
 */
import { PolicyResource, ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import { asRecord, commandLooksLikeCleanup, commandLooksLikeRedis, commandLooksLikeServer, ContainerView, EnvView, LABEL, labelsSayRedis, labelsSayServer, MountView } from "./common";
import { ENV } from "../components/contract/server";
import { azureTagKey } from "../components/contract/labels";

/** Matches the default module token and explicit API-version modules (`containerinstance/v20230501`). */
const CONTAINER_GROUP_RE = /^azure-native:containerinstance(\/v[0-9a-z]+)?:ContainerGroup$/;
const STORAGE_ACCOUNT_RE = /^azure-native:storage(\/v[0-9a-z]+)?:StorageAccount$/;
const PUBLIC_IP_RE = /^azure-native:network(\/v[0-9a-z]+)?:PublicIPAddress$/;
export const ACI_CONTAINER_GROUP_TYPE = "azure-native:containerinstance:ContainerGroup";
export const STORAGE_ACCOUNT_TYPE = "azure-native:storage:StorageAccount";
export const PUBLIC_IP_TYPE = "azure-native:network:PublicIPAddress";

export const isContainerGroupType = (t: string): boolean => CONTAINER_GROUP_RE.test(t);
export const isStorageAccountType = (t: string): boolean => STORAGE_ACCOUNT_RE.test(t);
export const isPublicIpType = (t: string): boolean => PUBLIC_IP_RE.test(t);

/** The subset of azure-native `containerinstance.ContainerGroupArgs` the policies read. */
export interface AciEnvironmentVariable {
    name: string;
    value?: string;
    secureValue?: string;
}
export interface AciProbe {
    exec?: { command?: string[] };
    httpGet?: { port?: number; path?: string };
}
export interface AciContainer {
    name: string;
    image?: string;
    command?: string[];
    environmentVariables?: AciEnvironmentVariable[];
    ports?: { port: number; protocol?: string }[];
    resources?: { requests?: { cpu?: number; memoryInGB?: number }; limits?: { cpu?: number; memoryInGB?: number } };
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
    livenessProbe?: AciProbe;
    readinessProbe?: AciProbe;
    securityContext?: { privileged?: boolean; allowPrivilegeEscalation?: boolean; runAsUser?: number; runAsGroup?: number };
}
export interface AciVolume {
    name: string;
    azureFile?: { shareName: string; storageAccountName: string; storageAccountKey?: string; readOnly?: boolean };
    emptyDir?: unknown;
    secret?: Record<string, string>;
    gitRepo?: unknown;
}
export interface AciContainerGroupProps {
    containerGroupName?: string;
    containers?: AciContainer[];
    initContainers?: AciContainer[];
    ipAddress?: { type?: string; ports?: { port: number; protocol?: string }[]; dnsNameLabel?: string };
    volumes?: AciVolume[];
    subnetIds?: { id: string }[];
    tags?: Record<string, string>;
    sku?: string;
}
/** The subset of azure-native `storage.StorageAccountArgs` the policies read. */
export interface StorageAccountProps {
    accountName?: string;
    enableHttpsTrafficOnly?: boolean;
    minimumTlsVersion?: string;
    allowBlobPublicAccess?: boolean;
}

function envOf(c: AciContainer): EnvView[] {
    return (c.environmentVariables ?? []).map((e): EnvView => {
        if (e.secureValue !== undefined && (e.value === undefined || e.value === "")) return { name: e.name, source: "secret", value: e.secureValue };
        return { name: e.name, source: "plain", value: e.value ?? "" };
    });
}

function hasProbe(p: AciProbe | undefined): boolean {
    return p !== undefined && (p.exec !== undefined || p.httpGet !== undefined);
}

const positive = (n: number | undefined): boolean => typeof n === "number" && n > 0;

/**
 * A group's tags as the label keys the policies read. Azure refuses `/` in a tag name, so our tags
 * carry each label key with `.` for `/` (`app.kubernetes.io.instance`); a tag spelled as the label
 * key itself (a hand-written group) is read too, and wins.
 */
export function labelsOfAzureTags(tags: Readonly<Record<string, string>>): Record<string, string> {
    const labels: Record<string, string> = { ...tags };
    for (const key of Object.values(LABEL)) {
        const tagged = tags[azureTagKey(key)];
        if (tagged !== undefined && labels[key] === undefined) labels[key] = tagged;
    }
    return labels;
}

export function aciContainerViews(groupName: string, props: AciContainerGroupProps): ContainerView[] {
    const tags = () => labelsOfAzureTags(asRecord(props.tags));
    const volumes = props.volumes ?? [];
    const view = (c: AciContainer, isInit: boolean): ContainerView => {
        const commandLine = () => c.command ?? [];
        const env = () => envOf(c);
        return {
            platform: "aci",
            init: isInit,
            where: `${isInit ? "init container" : "container"} "${c.name}" of container group "${groupName}"`,
            isServer: () =>
                !isInit &&
                !commandLooksLikeCleanup(commandLine()) &&
                (commandLooksLikeServer(commandLine()) ||
                    (labelsSayServer(tags()) && (c.name === "copilot" || (props.containers ?? []).length === 1)) ||
                    env().some((e) => e.name === ENV.connectionToken || e.name === ENV.home)),
            isRedis: () => !isInit && ((labelsSayRedis(tags()) && c.name === "redis") || commandLooksLikeRedis(commandLine(), c.image)),
            labels: tags,
            image: () => c.image,
            commandLine,
            env,
            mounts: () =>
                (c.volumeMounts ?? []).map((m): MountView => {
                    const v = volumes.find((x) => x.name === m.name);
                    const kind = v?.azureFile !== undefined ? "shared" : v?.secret !== undefined ? "secret" : v?.emptyDir !== undefined ? "local" : "config";
                    return {
                        path: m.mountPath,
                        volume: m.name,
                        kind,
                        readOnly: m.readOnly === true || v?.azureFile?.readOnly === true,
                        storageId: v?.azureFile ? `azurefile:${v.azureFile.storageAccountName}/${v.azureFile.shareName}` : undefined,
                    };
                }),
            probes: () => ({ readiness: hasProbe(c.readinessProbe), liveness: hasProbe(c.livenessProbe) }),
            resources: () => ({
                cpuRequest: positive(c.resources?.requests?.cpu),
                memoryRequest: positive(c.resources?.requests?.memoryInGB),
                cpuLimit: positive(c.resources?.limits?.cpu),
                memoryLimit: positive(c.resources?.limits?.memoryInGB),
            }),
            providedFiles: () => [],
            privilege: () => {
                const sc = c.securityContext;
                return {
                    runsAsRoot: sc?.runAsUser === 0 ? "yes" : typeof sc?.runAsUser === "number" && sc.runAsUser > 0 ? "no" : "unknown",
                    privileged: sc?.privileged === true,
                    escalation: sc?.allowPrivilegeEscalation === false ? "no" : sc?.allowPrivilegeEscalation === true ? "yes" : "unknown",
                    // Only the Confidential SKU accepts a security context; Standard groups run the image's USER.
                    declarable: sc !== undefined || props.sku === "Confidential",
                };
            },
        };
    };
    return [...(props.initContainers ?? []).map((c) => view(c, true)), ...(props.containers ?? []).map((c) => view(c, false))];
}

/** A type-string validator for container groups (the SDK is never loaded). */
export function aciValidator(
    check: (views: ContainerView[], props: AciContainerGroupProps, args: ResourceValidationArgs, report: ReportViolation) => void,
): ResourceValidation {
    return (args, report) => {
        if (!isContainerGroupType(args.type)) {
            args.notApplicable(`Policy only applies to resources of type '${ACI_CONTAINER_GROUP_TYPE}' here`);
            return;
        }
        const props = args.props as AciContainerGroupProps;
        check(aciContainerViews(props.containerGroupName ?? args.name, props), props, args, report);
    };
}

export function stackContainerGroups(resources: readonly PolicyResource[]): { resource: PolicyResource; props: AciContainerGroupProps; views: ContainerView[] }[] {
    return resources
        .filter((r) => isContainerGroupType(r.type))
        .map((r) => {
            const props = r.props as AciContainerGroupProps;
            return { resource: r, props, views: aciContainerViews(props.containerGroupName ?? r.name, props) };
        });
}
