// Package envtestbin finds the kube-apiserver and etcd binaries that
// tools/envtest-bins.sh builds, for the webhook tests and the benchmark's
// control plane.
package envtestbin

import (
	"os"
	"path/filepath"
	"sort"
)

// Dir returns KUBEBUILDER_ASSETS when set, else the newest complete build
// in the cache (GJALLAR_CACHE, default ~/.cache/gjallar), else "".
func Dir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	root := os.Getenv("GJALLAR_CACHE")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "gjallar")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "envtest", "*"))
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if isExec(filepath.Join(dirs[i], "kube-apiserver")) && isExec(filepath.Join(dirs[i], "etcd")) {
			return dirs[i]
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}
