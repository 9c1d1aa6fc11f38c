package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// binary is the gjallar built once for these tests: they run the real
// command, as a user or a pre-commit hook would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gjallar-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gjallar")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func gjallar(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestExitCodes(t *testing.T) {
	root := repoRoot(t)
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"findings", []string{"lint", "testdata/examples/runbook"}, 1, "error bifrost-providers-map"},
		{"clean", []string{"lint", "testdata/examples/compliant"}, 0, "0 errors, 0 warnings"},
		{"warnings pass by default", []string{"lint", "testdata/rules/config-rollout-hash/bad/missing.yaml"}, 0, "warning config-rollout-hash"},
		{"fail on warning", []string{"lint", "--fail-on", "warning", "testdata/rules/config-rollout-hash/bad/missing.yaml"}, 1, "warning config-rollout-hash"},
		{"fail on none", []string{"lint", "--fail-on", "none", "testdata/examples/runbook"}, 0, "error"},
		{"parse error fails", []string{"lint", "testdata/rules/parse-error/bad"}, 1, "parse-error"},
		{"unknown flag", []string{"lint", "--nope"}, 2, "unknown flag"},
		{"missing path", []string{"lint", "no/such/dir"}, 2, "no/such/dir: no such file or directory"},
		{"bad format", []string{"lint", "--format", "xml", "."}, 2, "unknown --format"},
		{"bad fail-on", []string{"lint", "--fail-on", "fatal", "."}, 2, "--fail-on"},
		{"bad config", []string{"lint", "--config", "testdata/lint/bad-config.yaml", "testdata/examples/compliant"}, 2, "bad-config.yaml:3: unknown rule"},
		{"missing config", []string{"lint", "--config", "nope.yaml", "."}, 2, "nope.yaml"},
		{"fix with stdin", []string{"lint", "--fix", "-"}, 2, "cannot be used with -"},
		{"unknown command", []string{"lnt"}, 2, "unknown command"},
		{"rules", []string{"rules"}, 0, "bifrost-providers-map"},
		{"rules lists policies", []string{"rules"}, 0, "plaintext-secret"},
		{"builtin policies run", []string{"lint", "testdata/rules/endpoint-hostname/bad"}, 1, "error endpoint-hostname"},
		{"no builtin policies", []string{"lint", "--no-builtin-policies", "testdata/rules/endpoint-hostname/bad"}, 0, "0 errors"},
		{"user policies", []string{"lint", "--policy", "testdata/policies/conftest", "testdata/policies/bad"}, 1, "deployment.yaml:16:11: error main.deny_latest_tag"},
		{"policy syntax error", []string{"lint", "-p", "testdata/policies/errors/syntax", "testdata/policies/good"}, 2, "broken.rego:5: rego_parse_error"},
		{"policy missing", []string{"lint", "--policy", "no/such/policy", "."}, 2, "no/such/policy"},
		{"unknown namespace", []string{"lint", "-p", "testdata/policies/conftest", "-n", "nope", "."}, 2, "has package nope"},
		{"bad rego version", []string{"lint", "--rego-version", "v2", "."}, 2, "unknown --rego-version"},
		{"rego v0", []string{"lint", "--rego-version", "v0", "-p", "testdata/policies/v0", "testdata/policies/bad"}, 1, "main.deny: Deployment web has no app label"},
		{"policy test", []string{"policy", "test", "testdata/policies/conftest"}, 0, "2 passed, 0 failed, 0 errors"},
		{"policy test compile error", []string{"policy", "test", "testdata/policies/errors/compile"}, 2, "unsafe.rego:3: rego_unsafe_var_error"},
		{"policy test no tests", []string{"policy", "test", "testdata/policies/namespaces"}, 1, "no test_ rules"},
		{"policy check", []string{"policy", "check", "testdata/policies/conftest"}, 0, "memory-limit"},
		{"policy check errors", []string{"policy", "check", "testdata/policies/errors/compile"}, 1, "unsafe.rego:3: rego_unsafe_var_error"},
		{"policy check missing", []string{"policy", "check", "no/such/dir"}, 2, "no/such/dir"},
		{"version", []string{"version"}, 0, "gjallar "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := gjallar(t, root, "", c.args...)
			if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.out) {
				t.Errorf("exit %d, want %d; output does not contain %q:\n%s%s", r.code, c.code, c.out, r.stdout, r.stderr)
			}
		})
	}
}

func TestConfigFileFromWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "rules", "public-nlb-cloudfront", "bad", "service.yaml"))
	os.WriteFile(filepath.Join(dir, "gateway.yaml"), src, 0o644)
	if r := gjallar(t, dir, "", "lint"); r.code != 1 {
		t.Fatalf("no .gjallar.yaml, no args (lints .): exit %d, want 1\n%s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(dir, ".gjallar.yaml"), []byte("rules:\n  public-nlb-cloudfront: {severity: warning}\n"), 0o644)
	r := gjallar(t, dir, "", "lint")
	if r.code != 0 || !strings.Contains(r.stdout, "warning public-nlb-cloudfront") {
		t.Errorf(".gjallar.yaml not applied: exit %d\n%s", r.code, r.stdout)
	}
}

func TestStdin(t *testing.T) {
	manifest, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "examples", "runbook", "client.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The client's unprefixed model names are warnings: Bifrost v1.5.0 and
	// later may resolve them through their model catalog.
	if r := gjallar(t, t.TempDir(), string(manifest), "lint", "-"); r.code != 0 {
		t.Fatalf("--fail-on error (the default): exit %d", r.code)
	}
	r := gjallar(t, t.TempDir(), string(manifest), "lint", "--format", "json", "--fail-on", "warning", "-")
	if r.code != 1 {
		t.Fatalf("--fail-on warning: exit %d", r.code)
	}
	var out struct {
		Findings []struct {
			File string `json:"file"`
			Line int    `json:"line"`
			Rule string `json:"rule"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) != 2 || out.Findings[0].File != "<stdin>" || out.Findings[0].Line != 25 || out.Findings[0].Rule != "model-provider-prefix" {
		t.Errorf("findings = %+v", out.Findings)
	}
}

// TestFixThenClean runs --fix on a tree whose findings are all fixable: the
// fix exits 0, a plain lint afterwards is clean, and a second --fix leaves
// every byte as it was.
func TestFixThenClean(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(repoRoot(t), "testdata", "examples", "fixable")
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	if r := gjallar(t, dir, "", "lint", "."); r.code != 1 {
		t.Fatalf("before --fix: exit %d, want 1", r.code)
	}
	r := gjallar(t, dir, "", "lint", "--fix", "--fail-on", "warning", ".")
	if r.code != 0 || !strings.Contains(r.stderr, "applied") {
		t.Fatalf("--fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := gjallar(t, dir, "", "lint", "--fail-on", "info", "."); r.code != 0 || r.stdout != "" {
		t.Fatalf("after --fix: exit %d\n%s", r.code, r.stdout)
	}
	before := snapshot(t, dir)
	if r := gjallar(t, dir, "", "lint", "--fix", "."); r.code != 0 {
		t.Fatalf("second --fix: exit %d", r.code)
	}
	if after := snapshot(t, dir); after != before {
		t.Error("second --fix changed files")
	}
}

func snapshot(t *testing.T, dir string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + "\x00" + string(data) + "\x00")
	}
	return b.String()
}

func TestPolicyTestFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package main\n\ndeny contains \"no\" if input.x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package main\n\ntest_passes if deny[\"no\"] with input as {\"x\": true}\n\ntest_fails if {\n\tprint(\"deny is\", deny)\n\tcount(deny) == 0 with input as {\"x\": true}\n}\n"), 0o644)
	r := gjallar(t, dir, "", "policy", "test", ".")
	want := "p_test.rego:5: FAIL data.main.test_fails"
	if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "1 passed, 1 failed") || strings.Contains(r.stdout, "test_passes") {
		t.Errorf("exit %d, want 1 with %q:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	if r := gjallar(t, dir, "", "policy", "test", "-v", "."); !strings.Contains(r.stdout, "PASS data.main.test_passes") {
		t.Errorf("-v does not list passing tests:\n%s", r.stdout)
	}
}

// TestPolicyConfig configures a policy rule's severity and the built-in
// hostname policy's owned domains from .gjallar.yaml.
func TestPolicyConfig(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".gjallar.yaml"), []byte("rules:\n  main.deny_latest_tag: {severity: info}\n  endpoint-hostname:\n    options: {ownedDomains: [corp.example]}\n"), 0o644)
	r := gjallar(t, dir, "", "lint", "--fail-on", "none", "--policy", filepath.Join(root, "testdata/policies/conftest"),
		filepath.Join(root, "testdata/policies/bad"), filepath.Join(root, "testdata/rules/endpoint-hostname/good"))
	for _, want := range []string{"info main.deny_latest_tag", `HTTPRoute hostname "api.example.com" is not under a domain the company owns (corp.example)`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
}

// TestREADMERulesTable keeps the README's table generated from the rules'
// metadata: `gjallar rules --format markdown` is what it must contain.
func TestREADMERulesTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := RulesMarkdown(allRules())
	if !strings.Contains(string(readme), table) {
		t.Errorf("README.md's rules table is out of date; replace it with the output of `go run ./cmd/gjallar rules --format markdown`:\n%s", table)
	}
}
