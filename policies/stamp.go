package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Stamp fingerprints the .rego files under paths (names and contents,
// following the symlinks a ConfigMap volume uses), so that a watcher can
// recompile only when a policy changed.
func Stamp(paths []string) string {
	h := sha256.New()
	for _, root := range paths {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !strings.HasSuffix(p, ".rego") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			h.Write([]byte(p + "\x00"))
			h.Write(data)
			h.Write([]byte{0})
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
