// Package envtestbin finds what a test control plane needs: the
// kube-apiserver and etcd binaries that tools/envtest-bins.sh builds, and
// the Go modules that ship CRDs (the Gateway API's), for the webhook and
// audit tests and the benchmark's control plane.
package envtestbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ModuleDir is where the Go module mod is on disk (go list -m), for the
// CRDs it ships.
func ModuleDir(mod string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

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
