/**
 * The fleet's virtual network: a subnet for the CLI servers, one for the edge (HAProxy and Redis,
 * shared mode) and one for the idle suspender (per-user mode with `idleSuspendMinutes`), each
 * delegated to ACI, each with a network security group that gives `exposure`/`allowedCidrs` their
 * Kubernetes meaning and keeps users' servers apart.
 *
 * What the rules mean (priority order, first match wins; NSGs also apply inside a subnet):
 * - `cluster`: only addresses inside the fleet's virtual network (where your backends run, in a
 *   subnet of their own) reach the servers — the analogue of "only pods in the cluster";
 * - `internal`: `allowedCidrs` when set, otherwise Azure's `VirtualNetwork` tag (this network, peered
 *   networks and ranges routed in over VPN/ExpressRoute) — the analogue of a private load balancer;
 * - servers accept the edge subnet (HAProxy forwards and health-checks from there);
 * - per-user mode: the server subnet is denied to itself, so one user's server cannot reach another's;
 *   with idle suspend the control subnet reaches the servers' port, and nothing reaches the control subnet;
 * - everything else from inside Azure's `VirtualNetwork` tag is denied (Azure's default rule would allow it).
 *
 * Outbound (egress; a prompt-injected tool runs as the server, so its reach is the blast radius):
 * - Azure's instance metadata service (IMDS, 169.254.169.254, which hands out the group's managed
 *   identity tokens) is denied by its service tag: platform addresses are not subject to ordinary
 *   NSG rules, only to rules that name `AzurePlatformIMDS` (Azure docs, "Network security groups",
 *   Azure platform considerations). Whether ACI honours the tag for container groups is not
 *   documented; docs/security.md "Egress" says how to check it after a deploy;
 * - servers reach `egressAllowedCidrs` (any port) and private endpoints the config names by IP (their
 *   port); the edge reaches the servers' port (HAProxy);
 * - the rest of the `VirtualNetwork` tag, private and link-local ranges are denied;
 * - the `Storage` tag on 445 stays open (whether ACI mounts Azure Files through the group's subnet is
 *   not documented) and the `Internet` tag on the plan's public ports (443, plus a configured
 *   endpoint's own); everything else is denied.
 * Azure DNS (168.63.129.16) is a platform address too, so name resolution keeps working.
 */
import * as network from "@pulumi/azure-native/network";
import * as pulumi from "@pulumi/pulumi";
import type { network as netInputs } from "@pulumi/azure-native/types/input";
import { DEFAULT_EXPOSURE, Exposure } from "../config";
import { assertArgs } from "../config/args";
import { DEFAULT_VNET_ADDRESS_SPACE } from "../config/keys";
import { egressPlanFromArgs, ServerSettingsArgs } from "../contract/args";
import { EgressPlan, egressPlan, NON_PUBLIC_RANGES } from "../contract/egress";
import { parseCidr } from "../contract/cidr";
import { HAPROXY_METRICS_PORT } from "../contract/haproxy";
import { Mode } from "../contract/outputs";
import { REDIS_PORT } from "../contract/redis";
import { CLI_PORT } from "../contract/server";
import { nameOf } from "./group";
import { componentType, withFormerType } from "../contract/types";

export const ACI_DELEGATION = "Microsoft.ContainerInstance/containerGroups";

/** The server, edge and control (idle suspender) subnets: the first three quarters of the address space. */
export function subnetPrefixes(addressSpace: string): { servers: string; edge: string; control: string } {
    const [addr, prefixText] = addressSpace.split("/");
    const prefix = Number(prefixText);
    const base = addr.split(".").reduce((a, o) => a * 256 + Number(o), 0);
    const size = 2 ** (32 - prefix - 2);
    const show = (n: number) => `${[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".")}/${prefix + 2}`;
    return { servers: show(base), edge: show(base + size), control: show(base + 2 * size) };
}

export type SecurityRule = netInputs.SecurityRuleArgs;

/** Sources allowed to dial the fleet, per `exposure` (see the file comment). */
export function clientSources(exposure: Exposure, allowedCidrs: readonly string[], addressSpace: string): string[] {
    if (exposure === "cluster") return [addressSpace];
    if (exposure === "internal") return allowedCidrs.length > 0 ? [...allowedCidrs] : ["VirtualNetwork"];
    throw new Error('exposure "public" is not supported on ACI (components/config/ refuses it)');
}

function rule(name: string, priority: number, access: "Allow" | "Deny", sources: readonly string[], ports: readonly number[] | "*"): SecurityRule {
    return {
        name,
        priority,
        direction: "Inbound",
        access,
        protocol: ports === "*" ? "*" : "Tcp",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        ...(sources.length === 1 ? { sourceAddressPrefix: sources[0] } : { sourceAddressPrefixes: [...sources] }),
        ...(ports === "*" ? { destinationPortRange: "*" } : ports.length === 1 ? { destinationPortRange: String(ports[0]) } : { destinationPortRanges: ports.map(String) }),
    };
}

export interface RuleOptions {
    readonly mode: Mode;
    readonly exposure: Exposure;
    readonly allowedCidrs: readonly string[];
    readonly addressSpace: string;
    readonly port: number;
    readonly redisPort: number;
    /** Where the servers may connect (components/contract/egress.ts). Default: the public internet on 443 only. */
    readonly egress?: EgressPlan;
    /** Per-user mode with idle suspend: the control subnet's suspender may dial the servers' port. Default false. */
    readonly idleSuspend?: boolean;
}

function outbound(name: string, priority: number, access: "Allow" | "Deny", destinations: readonly string[], ports: readonly number[] | "*"): SecurityRule {
    return {
        name,
        priority,
        direction: "Outbound",
        access,
        protocol: ports === "*" ? "*" : "Tcp",
        sourcePortRange: "*",
        sourceAddressPrefix: "*",
        ...(destinations.length === 1 ? { destinationAddressPrefix: destinations[0] } : { destinationAddressPrefixes: [...destinations] }),
        ...(ports === "*" ? { destinationPortRange: "*" } : ports.length === 1 ? { destinationPortRange: String(ports[0]) } : { destinationPortRanges: ports.map(String) }),
    };
}

/** Outbound priorities, apart from the inbound ones so the two lists read separately. */
export const OUTBOUND_PRIORITY = { denyImds: 200, allowed: 210, endpoints: 220, denyVnet: 4050, denyPrivate: 4060, storageSmb: 4070, internet: 4080, denyAll: 4090 } as const;
/** Azure service tags the outbound rules use. */
export const SERVICE_TAGS = { imds: "AzurePlatformIMDS", vnet: "VirtualNetwork", storage: "Storage", internet: "Internet", arm: "AzureResourceManager" } as const;
/** ACI groups in a virtual network have no IPv6 addresses, and one NSG rule cannot mix address families. */
const ipv4 = (cidrs: readonly string[]) => cidrs.filter((c) => parseCidr(c)?.version === 4);

/** The closing outbound rules every subnet shares: no VNet, no private ranges, Storage SMB (unless `smb` is false), the public ports, nothing else. */
function outboundTail(publicPorts: readonly number[], smb = true): SecurityRule[] {
    return [
        outbound("deny-vnet-out", OUTBOUND_PRIORITY.denyVnet, "Deny", [SERVICE_TAGS.vnet], "*"),
        outbound("deny-private-out", OUTBOUND_PRIORITY.denyPrivate, "Deny", ipv4(NON_PUBLIC_RANGES), "*"),
        ...(smb ? [outbound("allow-storage-smb-out", OUTBOUND_PRIORITY.storageSmb, "Allow", [SERVICE_TAGS.storage], [445])] : []),
        outbound("allow-internet-out", OUTBOUND_PRIORITY.internet, "Allow", [SERVICE_TAGS.internet], publicPorts),
        outbound("deny-all-out", OUTBOUND_PRIORITY.denyAll, "Deny", ["*"], "*"),
    ];
}

/** Outbound rules of the server subnet. */
export function serverSubnetOutboundRules(o: RuleOptions): SecurityRule[] {
    const plan = o.egress ?? egressPlan([], []);
    const rules: SecurityRule[] = [outbound("deny-imds-out", OUTBOUND_PRIORITY.denyImds, "Deny", [SERVICE_TAGS.imds], "*")];
    const allowed = ipv4(plan.allowedCidrs);
    if (allowed.length > 0) rules.push(outbound("allow-egress-cidrs-out", OUTBOUND_PRIORITY.allowed, "Allow", allowed, "*"));
    // Only IP literals carry over: a Kubernetes Service name means nothing here.
    const endpoints = plan.endpoints.flatMap((e) => (e.kind === "private-address" && ipv4([e.cidr]).length === 1 ? [e] : []));
    endpoints.forEach((e, i) => rules.push(outbound(`allow-endpoint-${i}-out`, OUTBOUND_PRIORITY.endpoints + i, "Allow", [e.cidr], [e.port])));
    return [...rules, ...outboundTail(plan.publicPorts)];
}

/** Outbound rules of the edge subnet: HAProxy to the servers' port; no user ranges (nothing there exports or calls a model). */
export function edgeSubnetOutboundRules(o: RuleOptions): SecurityRule[] {
    const { servers } = subnetPrefixes(o.addressSpace);
    return [
        // The load-balancer group holds the pull identity when the cleanup sidecar runs in it.
        outbound("deny-imds-out", OUTBOUND_PRIORITY.denyImds, "Deny", [SERVICE_TAGS.imds], "*"),
        outbound("allow-servers-out", OUTBOUND_PRIORITY.allowed, "Allow", [servers], [o.port]),
        // 443 only for the images: whether ACI pulls through the group's subnet is not documented.
        ...outboundTail([443]),
    ];
}

/** Inbound rules of the server subnet. */
export function serverSubnetRules(o: RuleOptions): SecurityRule[] {
    const { servers, edge } = subnetPrefixes(o.addressSpace);
    const rules: SecurityRule[] = [];
    if (o.mode === "per-user") rules.push(rule("deny-server-to-server", 100, "Deny", [servers], "*"));
    if (o.mode === "shared") rules.push(rule("allow-edge", 110, "Allow", [edge], [o.port]));
    // The idle suspender asks each server about its sessions (with `internal` and allowedCidrs nothing else would admit it).
    if (o.mode === "per-user" && o.idleSuspend === true) rules.push(rule("allow-suspender", 115, "Allow", [subnetPrefixes(o.addressSpace).control], [o.port]));
    rules.push(rule("allow-clients", 120, "Allow", clientSources(o.exposure, o.allowedCidrs, o.addressSpace), [o.port]));
    rules.push(rule("deny-vnet", 4000, "Deny", ["VirtualNetwork"], "*"));
    return rules;
}

/** Inbound rules of the control subnet (the idle suspender): nothing may connect to it. */
export function controlSubnetRules(): SecurityRule[] {
    return [rule("deny-all-in", 4000, "Deny", ["*"], "*")];
}

/**
 * Outbound rules of the control subnet. The suspender needs three things: the servers' port (it reads
 * their sessions), ARM on 443 (start, stop, read groups) and the instance metadata service (its
 * identity's tokens: this is the one subnet that does not deny `AzurePlatformIMDS`). Internet 443 also
 * stays open for its image (whether ACI pulls through the group's subnet is not documented, as for
 * the edge); no Storage, no private ranges, nothing else.
 */
export function controlSubnetOutboundRules(o: RuleOptions): SecurityRule[] {
    const { servers } = subnetPrefixes(o.addressSpace);
    return [
        outbound("allow-servers-out", OUTBOUND_PRIORITY.allowed, "Allow", [servers], [o.port]),
        outbound("allow-arm-out", OUTBOUND_PRIORITY.endpoints, "Allow", [SERVICE_TAGS.arm], [443]),
        // It mounts no share: no SMB.
        ...outboundTail([443], false),
    ];
}

/** Inbound rules of the edge subnet (shared mode: HAProxy and Redis). */
export function edgeSubnetRules(o: RuleOptions): SecurityRule[] {
    return [
        // The balancer's Prometheus /metrics too: a scraper sits where clients do (it shows health, never the token).
        rule("allow-clients", 120, "Allow", clientSources(o.exposure, o.allowedCidrs, o.addressSpace), [o.port, o.redisPort, HAPROXY_METRICS_PORT]),
        rule("deny-vnet", 4000, "Deny", ["VirtualNetwork"], "*"),
    ];
}

/**
 * What a consumer passes to {@link AciNetwork}: plain values, each optional one with its default.
 * The egress arguments are the fleets' own (ServerSettingsArgs): the server subnet's outbound rules
 * admit the allowed ranges and the endpoints named by IP, including telemetry's collector.
 */
export interface AciNetworkArgs extends Pick<ServerSettingsArgs, "egressAllowedCidrs" | "egressEndpoints" | "telemetry"> {
    readonly resourceGroupName: pulumi.Input<string>;
    /** Azure region. Default: the azure-native provider's `location`. */
    readonly location?: pulumi.Input<string>;
    /** `shared` (default: also the edge subnet for HAProxy and Redis) or `per-user` (servers denied to one another). */
    readonly mode?: Mode;
    /** `cluster` (default: only this virtual network reaches the servers) or `internal` (`allowedCidrs`, else peered and routed networks). No `public` on ACI. */
    readonly exposure?: Exposure;
    /** Source ranges allowed to dial the fleet with `internal` (required in mode `per-user`). Default none. */
    readonly allowedCidrs?: string[];
    /** The virtual network (IPv4, /8 to /24); the server, edge and control subnets are its first three quarters. Default 10.42.0.0/16. */
    readonly vnetAddressSpace?: string;
    /** Per-user mode: also the control subnet, for the idle suspender (`idleSuspendMinutes`). Default false. */
    readonly idleSuspend?: boolean;
}

/** Virtual network, delegated subnets and their security groups. */
export class AciNetwork extends pulumi.ComponentResource {
    public readonly serverSubnetId: pulumi.Output<string>;
    public readonly edgeSubnetId?: pulumi.Output<string>;
    /** Per-user mode with `idleSuspend`: the idle suspender's subnet. */
    public readonly controlSubnetId?: pulumi.Output<string>;

    constructor(name: string, args: AciNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        const mode = args.mode ?? "shared";
        assertArgs("AciNetwork", name, "aci", mode, args);
        super(componentType("AciNetwork"), name, {}, withFormerType("copilot-fleet:aci:Network", opts));
        const rules: RuleOptions = {
            mode,
            exposure: args.exposure ?? DEFAULT_EXPOSURE,
            allowedCidrs: args.allowedCidrs ?? [],
            addressSpace: args.vnetAddressSpace ?? DEFAULT_VNET_ADDRESS_SPACE,
            port: CLI_PORT,
            redisPort: REDIS_PORT,
            egress: egressPlanFromArgs(args),
            idleSuspend: mode === "per-user" && args.idleSuspend === true,
        };
        const common = { resourceGroupName: args.resourceGroupName, location: args.location };
        const prefixes = subnetPrefixes(rules.addressSpace);
        const vnet = new network.VirtualNetwork(
            `${name}-vnet`,
            { ...common, virtualNetworkName: `${name}-vnet`, addressSpace: { addressPrefixes: [rules.addressSpace] } },
            // Subnets are their own resources; don't let the VNet's empty list fight them.
            { parent: this, ignoreChanges: ["subnets"] },
        );
        const subnet = (suffix: string, prefix: string, rules: SecurityRule[], dependsOn: pulumi.Resource[]) => {
            const nsg = new network.NetworkSecurityGroup(`${name}-${suffix}-nsg`, { ...common, networkSecurityGroupName: `${name}-${suffix}-nsg`, securityRules: rules }, { parent: this });
            return new network.Subnet(
                `${name}-${suffix}`,
                {
                    resourceGroupName: args.resourceGroupName,
                    virtualNetworkName: nameOf(vnet, `${name}-vnet`),
                    subnetName: suffix,
                    addressPrefix: prefix,
                    delegations: [{ name: "aci", serviceName: ACI_DELEGATION }],
                    networkSecurityGroup: { id: nsg.id },
                },
                // ARM updates one subnet of a VNet at a time.
                { parent: this, dependsOn },
            );
        };
        const servers = subnet("servers", prefixes.servers, [...serverSubnetRules(rules), ...serverSubnetOutboundRules(rules)], []);
        this.serverSubnetId = servers.id;
        if (mode === "shared") this.edgeSubnetId = subnet("edge", prefixes.edge, [...edgeSubnetRules(rules), ...edgeSubnetOutboundRules(rules)], [servers]).id;
        if (rules.idleSuspend) this.controlSubnetId = subnet("control", prefixes.control, [...controlSubnetRules(), ...controlSubnetOutboundRules(rules)], [servers]).id;
        this.registerOutputs({ serverSubnetId: this.serverSubnetId, edgeSubnetId: this.edgeSubnetId, controlSubnetId: this.controlSubnetId });
    }
}
