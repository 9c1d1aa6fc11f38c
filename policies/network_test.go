package policies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
)

func TestNoNetworkRejectsNetworkBuiltins(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\ndeny contains msg if {\n\tresp := http.send({\"method\": \"GET\", \"url\": \"http://169.254.169.254/latest/meta-data/\"})\n\tmsg := sprintf(\"%v\", [resp.status_code])\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := policies.Load(policies.Options{Paths: []string{dir}}); err != nil {
		t.Fatalf("without NoNetwork the policy compiles: %v", err)
	}
	_, err := policies.Load(policies.Options{Paths: []string{dir}, NoNetwork: true})
	if err == nil || !strings.Contains(err.Error(), "http.send") || !strings.Contains(err.Error(), "p.rego:4") {
		t.Errorf("NoNetwork: err = %v, want a compile error naming http.send at p.rego:4", err)
	}
}

func TestRuntimeIDCannotTakeABuiltinRulesID(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\ndeny contains {\"msg\": \"x\", \"rule\": concat(\"-\", [\"bifrost\", \"fsgroup\"])} if input.kind == \"ConfigMap\"\n"
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := policies.Load(policies.Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	obj := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}})
	got := set.Start(rules.NewMemIndex(nil)).Check(obj)
	if len(got) != 1 || got[0].Rule != "main.deny" {
		t.Errorf("findings = %+v, want one reported as main.deny", got)
	}
}
