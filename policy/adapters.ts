/**
 * Glue between the platform adapters and the rules: one call gives a rule typed validators for every
 * Kubernetes workload class, docker `Container` and ACI `ContainerGroup`, all handing the rule the
 * same neutral container views.
 */
import { PolicyResource, ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import { aciValidator, stackContainerGroups } from "./aci";
import { ContainerView } from "./common";
import { stackDockerContainers, dockerValidator } from "./docker";
import { containerViews, stackWorkloads, workloadValidators } from "./kubernetes";

export type ContainerCheck = (views: readonly ContainerView[], args: ResourceValidationArgs, report: ReportViolation) => void;

export function containerValidators(check: ContainerCheck): ResourceValidation[] {
    return [
        ...workloadValidators((w, args, report) => check(containerViews(w), args, report)),
        dockerValidator((view, _props, args, report) => check([view], args, report)),
        aciValidator((views, _props, args, report) => check(views, args, report)),
    ];
}

/** Every container in a stack, on every platform, with the resource that declares it. */
export function stackContainers(resources: readonly PolicyResource[]): { resource: PolicyResource; view: ContainerView }[] {
    return [
        ...stackWorkloads(resources).flatMap(({ resource, workload }) => containerViews(workload).map((view) => ({ resource, view }))),
        ...stackDockerContainers(resources).map(({ resource, view }) => ({ resource, view })),
        ...stackContainerGroups(resources).flatMap(({ resource, views }) => views.map((view) => ({ resource, view }))),
    ];
}

/** The fix, phrased for the platform the violation is on. */
export function perPlatform(view: ContainerView, fix: Readonly<Record<ContainerView["platform"], string>>): string {
    return fix[view.platform];
}
