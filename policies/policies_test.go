package policies_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

func testdata(elem ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, elem...)...)
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, opts policies.Options) *policies.Set {
	t.Helper()
	set, err := policies.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// lintWith lints paths with the Go rules and set, the way `gjallar lint
// --policy` does.
func lintWith(t *testing.T, set *policies.Set, cfg *rules.Config, paths ...string) []lint.Located {
	t.Helper()
	engine, err := rules.NewEngine(builtin.Rules(), cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := lint.Lint(engine, lint.Options{Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Findings
}

// got renders findings as "line severity rule: message" for comparison,
// leaving out the Go rules' findings.
func got(fs []lint.Located, ids ...string) []string {
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	var out []string
	for _, f := range fs {
		if len(ids) == 0 || keep[f.Rule] {
			out = append(out, fmt.Sprintf("%d %s %s: %s", f.Line, f.Severity, f.Rule, f.Message))
		}
	}
	return out
}

func TestConftestConventions(t *testing.T) {
	set := load(t, policies.Options{Paths: []string{testdata("policies", "conftest")}})
	ids := []string{"main.deny", "main.deny_latest_tag", "memory-limit", "team-label", "main.deny_missing_configmap", "policy-error"}
	findings := lintWith(t, set, nil, testdata("policies", "bad", "deployment.yaml"))
	want := []string{
		`2 error main.deny: Deployment web must set spec.template.spec.securityContext.runAsNonRoot`,
		`4 info team-label: Deployment web has no team label`,
		`16 error main.deny_latest_tag: container "web" uses a :latest image; pin a version`,
		`17 error memory-limit: the first container has no memory limit; set resources.limits.memory`,
		`22 error main.deny_missing_configmap: volume "settings" mounts ConfigMap apps/web-settings, which is not among the linted objects`,
	}
	if g := got(findings, ids...); !reflect.DeepEqual(g, want) {
		t.Errorf("bad fixture:\n got %q\nwant %q", g, want)
	}
	// The ConfigMap the Deployment mounts is linted with it: data.inventory
	// has it, and nothing else is wrong.
	if g := got(lintWith(t, set, nil, testdata("policies", "good")), ids...); len(g) != 0 {
		t.Errorf("good fixture: %q", g)
	}
}

func TestInventoryShape(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "inventory.rego", `package main
deny contains msg if {
	input.kind == "Deployment"
	data.inventory.namespace.apps["apps/v1"].Deployment[input.metadata.name] == input
	data.inventory.cluster.v1.Namespace.apps.metadata.name == "apps"
	msg := "found myself and my namespace"
}
`)
	ns := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "apps"}})
	dep := rules.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "apps"}})
	set := load(t, policies.Options{Paths: []string{dir}})
	fs := set.Start(rules.NewMemIndex([]*rules.Object{ns, dep})).Check(dep)
	if len(fs) != 1 || fs[0].Message != "found myself and my namespace" {
		t.Errorf("findings = %+v", fs)
	}
}

func TestCompileErrorsNameFileAndLine(t *testing.T) {
	for dir, want := range map[string]string{
		"syntax":  filepath.Join(testdata("policies", "errors", "syntax"), "broken.rego") + ":5: rego_parse_error",
		"compile": filepath.Join(testdata("policies", "errors", "compile"), "unsafe.rego") + ":3: rego_unsafe_var_error: var msg is unsafe",
	} {
		_, err := policies.Load(policies.Options{Builtin: true, Paths: []string{testdata("policies", "errors", dir)}})
		var ce *policies.CompileError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Problems[0], want) {
			t.Errorf("%s: err = %v, want a CompileError starting %q", dir, err, want)
		}
	}
}

func TestRuntimeErrorIsIsolated(t *testing.T) {
	set := load(t, policies.Options{Builtin: true, Paths: []string{testdata("policies", "errors", "runtime")}})
	cm := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "twice", "namespace": "apps"}})
	var msgs []string
	for _, f := range set.Start(rules.NewMemIndex(nil)).Check(cm) {
		msgs = append(msgs, f.Rule+" "+f.Severity.String()+": "+f.Message)
	}
	sort.Strings(msgs)
	if len(msgs) != 2 ||
		!strings.HasPrefix(msgs[0], "main.warn_still_runs warning: ConfigMap twice checked") ||
		!strings.Contains(msgs[1], "policy-error error: policy data.main.deny_conflict (") ||
		!strings.Contains(msgs[1], "conflict.rego:9) could not check this object") ||
		!strings.Contains(msgs[1], "eval_conflict_error") {
		t.Errorf("findings:\n%s", strings.Join(msgs, "\n"))
	}
}

func TestSeverityConfigAndSuppression(t *testing.T) {
	set := load(t, policies.Options{Builtin: true, Paths: []string{testdata("policies", "conftest")}})
	cfg, err := rules.ParseConfig("c.yaml", []byte(`rules:
  main.deny_latest_tag: {severity: warning}
  team-label: {disabled: true}
  memory-limit: {severity: "off"}
  plaintext-secret: {severity: error}
`))
	if err != nil {
		t.Fatal(err)
	}
	fs := lintWith(t, set, cfg, testdata("policies", "bad", "deployment.yaml"))
	want := []string{
		`2 error main.deny: Deployment web must set spec.template.spec.securityContext.runAsNonRoot`,
		`16 warning main.deny_latest_tag: container "web" uses a :latest image; pin a version`,
		`22 error main.deny_missing_configmap: volume "settings" mounts ConfigMap apps/web-settings, which is not among the linted objects`,
	}
	if g := got(fs); !reflect.DeepEqual(g, want) {
		t.Errorf("\n got %q\nwant %q", g, want)
	}
	// An ID no policy declares is still an error in the config.
	bad, _ := rules.ParseConfig("c.yaml", []byte("rules:\n  team-labels: {severity: warning}\n"))
	if _, err := rules.NewEngine(builtin.Rules(), bad, set); err == nil || !strings.Contains(err.Error(), `unknown rule "team-labels"`) {
		t.Errorf("unknown ID accepted: %v", err)
	}
}

func TestRulesListed(t *testing.T) {
	set := load(t, policies.Options{Builtin: true, Paths: []string{testdata("policies", "conftest")}})
	var ids []string
	for _, r := range set.Rules() {
		ids = append(ids, r.ID+"/"+r.Severity.String())
	}
	want := []string{
		"endpoint-hostname/error", "plaintext-secret/warning", "policy-error/error",
		"main.deny/error", "main.deny_latest_tag/error", "main.deny_missing_configmap/error",
		"main.violation/error", "main.warn/warning", "memory-limit/error", "team-label/info",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("rules:\n got %q\nwant %q", ids, want)
	}
}

func TestReservedIDs(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "p.rego", "package main\n\ndeny contains {\"msg\": \"x\", \"rule\": \"bifrost-fsgroup\"} if input.kind == \"Pod\"\n")
	_, err := policies.Load(policies.Options{Paths: []string{dir}})
	if err == nil || !strings.Contains(err.Error(), `p.rego:3: rule ID "bifrost-fsgroup" is a built-in rule's`) {
		t.Errorf("err = %v", err)
	}
}

func TestMetadataSetsIDAndSeverity(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "p.rego", `package main

# METADATA
# title: Pods must not use hostNetwork
# custom:
#   id: no-host-network
#   severity: warning
deny contains msg if {
	input.spec.hostNetwork
	msg := "hostNetwork shares the node's network namespace; remove it"
}
`)
	set := load(t, policies.Options{Paths: []string{dir}})
	var found *rules.Rule
	for _, r := range set.Rules() {
		if r.ID == "no-host-network" {
			found = r
		}
	}
	if found == nil || found.Severity != rules.Warning || found.Summary != "Pods must not use hostNetwork" {
		t.Fatalf("rule = %+v", found)
	}
	pod := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}, "spec": map[string]any{"hostNetwork": true}})
	fs := set.Start(rules.NewMemIndex(nil)).Check(pod)
	if len(fs) != 1 || fs[0].Rule != "no-host-network" || fs[0].Severity != rules.Warning {
		t.Errorf("findings = %+v", fs)
	}
}

func TestNamespaces(t *testing.T) {
	dir := testdata("policies", "namespaces")
	secret := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}})
	cases := []struct {
		opts policies.Options
		want []string
	}{
		{policies.Options{}, []string{"main.deny"}},
		{policies.Options{Namespaces: []string{"k8s.labels"}}, []string{"k8s.labels.warn"}},
		{policies.Options{Namespaces: []string{"main", "k8s.labels"}}, []string{"main.deny", "k8s.labels.warn"}},
		{policies.Options{AllNamespaces: true}, []string{"k8s.labels.warn", "main.deny"}},
	}
	for _, c := range cases {
		c.opts.Paths = []string{dir}
		var ids []string
		for _, f := range load(t, c.opts).Start(rules.NewMemIndex(nil)).Check(secret) {
			ids = append(ids, f.Rule)
		}
		if !reflect.DeepEqual(ids, c.want) {
			t.Errorf("%+v: %q, want %q", c.opts, ids, c.want)
		}
	}
	_, err := policies.Load(policies.Options{Paths: []string{dir}, Namespaces: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), "has package nope (packages: k8s.labels, main)") {
		t.Errorf("unknown namespace: %v", err)
	}
}

func TestRegoV0(t *testing.T) {
	dir := testdata("policies", "v0")
	if _, err := policies.Load(policies.Options{Paths: []string{dir}}); err == nil {
		t.Error("v0 syntax accepted as v1")
	}
	set := load(t, policies.Options{Paths: []string{dir}, RegoV0: true})
	dep := rules.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}})
	fs := set.Start(rules.NewMemIndex(nil)).Check(dep)
	if len(fs) != 1 || fs[0].Message != "Deployment web has no app label" {
		t.Errorf("findings = %+v", fs)
	}
}

func TestResultShapes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "p.rego", `package main

deny contains "" if input.kind == "Pod"            # an empty message is a pass
deny contains {"msg": 42} if input.kind == "Pod"   # not a string msg
warn contains 7 if input.kind == "Pod"             # neither string nor object
warn_path contains {"msg": "quoted", "path": "data[\"config.json\"]:providers"} if input.kind == "Pod"
warn_bad contains {"msg": "bad severity", "severity": "fatal"} if input.kind == "Pod"
`)
	set := load(t, policies.Options{Paths: []string{dir}})
	pod := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}})
	var out []string
	for _, f := range set.Start(rules.NewMemIndex(nil)).Check(pod) {
		out = append(out, f.Rule+" "+f.Severity.String()+" "+f.Path.String()+" "+f.Message)
	}
	sort.Strings(out)
	want := []string{
		`main.warn_bad warning  bad severity`,
		`main.warn_path warning data["config.json"].providers quoted`,
		`policy-error error  policy data.main.deny (` + filepath.Join(dir, "p.rego") + `:3) could not check this object, so it went unchecked: a result object needs a string msg; this one has keys ["msg"]`,
		`policy-error error  policy data.main.warn (` + filepath.Join(dir, "p.rego") + `:5) could not check this object, so it went unchecked: a result must be a string or an object with a string msg, not json.Number`,
		`policy-error error  policy data.main.warn_bad (` + filepath.Join(dir, "p.rego") + `:7) could not check this object, so it went unchecked: result severity: unknown severity "fatal" (want error, warning or info)`,
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("\n got %q\nwant %q", out, want)
	}
}

func TestTimeout(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "slow.rego", `package main

deny contains "slow" if {
	input.kind == "Pod"
	count([x | some x in numbers.range(1, 100000000); x % 7 == 0]) < 0
}

warn contains "fast" if input.kind == "Pod"
`)
	set := load(t, policies.Options{Paths: []string{dir}, Timeout: 50 * time.Millisecond})
	pod := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}})
	start := time.Now()
	fs := set.Start(rules.NewMemIndex(nil)).Check(pod)
	if time.Since(start) > 5*time.Second {
		t.Errorf("Check took %s", time.Since(start))
	}
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.Rule+": "+f.Message)
	}
	sort.Strings(msgs)
	// One deterministic finding, whatever else got through in time.
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "policy-error: the Rego policies did not finish on this object within 50ms") || !strings.Contains(msgs[0], "eval_cancel_error") {
		t.Errorf("findings: %q", msgs)
	}
}

// TestConcurrentChecks runs one run's Check from many goroutines, as the
// webhook does; go test -race checks the sharing.
func TestConcurrentChecks(t *testing.T) {
	// A policy that walks the whole inventory, besides the conftest ones
	// that look objects up in it.
	dir := t.TempDir()
	write(t, dir, "walk.rego", `package main

warn_neighbours contains msg if {
	input.kind == "Deployment"
	names := {name | some ns, v, k, name; data.inventory.namespace[ns][v][k][name]}
	msg := sprintf("%d named objects in namespaces", [count(names)])
}
`)
	set := load(t, policies.Options{Builtin: true, Paths: []string{testdata("policies", "conftest"), dir}})
	in, err := lint.Load([]string{testdata("policies", "bad"), testdata("rules", "plaintext-secret", "bad"), testdata("rules", "endpoint-hostname", "bad")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*rules.Object
	for _, d := range in.Documents {
		objs = append(objs, d.Object)
	}
	idx := rules.NewMemIndex(objs)
	sequential := map[*rules.Object][]rules.Finding{}
	for _, o := range objs {
		sequential[o] = set.Start(idx).Check(o)
	}
	run := set.Start(idx)
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(objs))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range objs {
				o := objs[(i+g)%len(objs)]
				if fs := run.Check(o); !reflect.DeepEqual(fs, sequential[o]) {
					errs <- fmt.Sprintf("%s: concurrent %+v, sequential %+v", o.Ref(), fs, sequential[o])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
