// kube-local: one binary for the control plane of scripts/kube-local.sh, so the Kubernetes
// packages are linked once instead of three times:
//
//	kube-local apiserver ...           k8s.io/kubernetes/cmd/kube-apiserver
//	kube-local controller-manager ...  k8s.io/kubernetes/cmd/kube-controller-manager
//	kube-local scheduler ...           k8s.io/kubernetes/cmd/kube-scheduler
//	kube-local kubelet ...             our simulated kubelet (kubelet.go): a Node whose bound pods
//	                                   are reported Running and Ready without running anything
//	kube-local kubectl ...             k8s.io/kubectl at the same version (also when run as "kubectl",
//	                                   through a symlink), so the scripts need no kubectl of their own
//
// Each subcommand takes the flags of the program it stands for.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = "usage: kube-local apiserver|controller-manager|scheduler|kubelet|kubectl [flags]"

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		runKubectl()
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	sub := os.Args[1]
	// The commands read their flags from os.Args[1:]: drop the subcommand.
	os.Args = append([]string{"kube-local-" + sub}, os.Args[2:]...)
	switch sub {
	case "apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kubelet":
		os.Exit(runKubelet(os.Args[1:]))
	case "kubectl":
		runKubectl()
	default:
		fmt.Fprintf(os.Stderr, "kube-local: unknown subcommand %q\n%s\n", sub, usage)
		os.Exit(2)
	}
}

func runKubectl() {
	if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
		kubectlutil.CheckErr(err)
	}
}
