/**
 * Glue between the platform adapters and the rules: one call gives a rule typed validators for every
 * Kubernetes workload class, docker `Container` and ACI `ContainerGroup`, all handing the rule the
 * same neutral container views.
 */
import { ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import { aciValidator } from "./aci";
import { ContainerView } from "./common";
import { dockerValidator } from "./docker";
import { containerViews, workloadValidators } from "./kubernetes";

export type ContainerCheck = (views: readonly ContainerView[], args: ResourceValidationArgs, report: ReportViolation) => void;

export function containerValidators(check: ContainerCheck): ResourceValidation[] {
    return [
        ...workloadValidators((w, args, report) => check(containerViews(w), args, report)),
        dockerValidator((view, _props, args, report) => check([view], args, report)),
        aciValidator((views, _props, args, report) => check(views, args, report)),
    ];
}

/** The fix, phrased for the platform the violation is on. */
export function perPlatform(view: ContainerView, fix: Readonly<Record<ContainerView["platform"], string>>): string {
    return fix[view.platform];
}
