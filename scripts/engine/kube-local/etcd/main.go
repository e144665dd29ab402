// etcd for scripts/kube-local.sh: the etcd server at the version k8s.io/kubernetes pins
// (go.etcd.io/etcd/server/v3), whose own main module the wrapper does not need.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	// etcdmain reads os.Args[1] as a subcommand (gateway, grpc-proxy) when it is not a flag.
	etcdmain.Main(os.Args)
}
