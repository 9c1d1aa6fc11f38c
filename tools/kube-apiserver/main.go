// Command kube-apiserver is a thin wrapper that builds the upstream
// Kubernetes API server from the k8s.io/kubernetes Go module, so that
// envtest can run against a real kube-apiserver without downloading
// release binaries.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	// Register the JSON log format and the client-go / version metrics,
	// matching what the upstream binary links in.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
