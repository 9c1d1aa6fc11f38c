package policies

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStampFollowsContentAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "p.rego"), []byte("package main\n"), 0o644)
	// A ConfigMap volume: the file is a symlink into a hidden directory.
	if err := os.Symlink(filepath.Join("..data", "p.rego"), filepath.Join(dir, "p.rego")); err != nil {
		t.Fatal(err)
	}
	a := Stamp([]string{dir})
	if Stamp([]string{dir}) != a {
		t.Error("stamp not stable")
	}
	os.WriteFile(filepath.Join(data, "p.rego"), []byte("package main\n# changed\n"), 0o644)
	if Stamp([]string{dir}) == a {
		t.Error("a changed policy behind a symlink did not change the stamp")
	}
	b := Stamp([]string{dir})
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if Stamp([]string{dir}) != b {
		t.Error("a non-policy file changed the stamp")
	}
}
