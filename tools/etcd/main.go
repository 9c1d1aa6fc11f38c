// Command etcd is a thin wrapper that builds the etcd server from the
// go.etcd.io/etcd/server/v3 Go module, so that envtest can run against a
// real etcd without downloading release binaries.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
