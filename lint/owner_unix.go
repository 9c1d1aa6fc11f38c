//go:build unix

package lint

import (
	"os"
	"syscall"
)

// keepOwner gives a rewritten file its original owner and group, where the
// process may (as root, or as the owner keeping its own group).
func keepOwner(path string, info os.FileInfo) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		_ = os.Chown(path, int(st.Uid), int(st.Gid))
	}
}
