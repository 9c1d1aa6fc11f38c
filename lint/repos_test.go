package lint

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

const reposDir = "../testdata/repos"

// repoWant is one expected finding: file relative to the repository.
type repoWant struct {
	file, rule, text string
	line             int
	severity         rules.Severity
}

func readRepoWants(t *testing.T, repo string) []repoWant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []repoWant
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where, rest, ok1 := strings.Cut(line, " ")
		sev, rest, ok2 := strings.Cut(rest, " ")
		rule, text, ok3 := strings.Cut(rest, ": ")
		file, num, ok4 := strings.Cut(where, ":")
		n, err := strconv.Atoi(num)
		s, serr := rules.ParseSeverity(sev)
		if !ok1 || !ok2 || !ok3 || !ok4 || err != nil || serr != nil {
			t.Fatalf("%s/want.txt:%d: want \"file:line severity rule: text\", got %q", repo, i+1, line)
		}
		out = append(out, repoWant{file, rule, text, n, s})
	}
	return out
}

// lintRepo lints a repository from its root with its .gjallar.yaml, as
// `gjallar lint --config REPO/.gjallar.yaml REPO` does.
func lintRepo(t *testing.T, repo string, render RenderOptions) *Report {
	t.Helper()
	var cfg *rules.Config
	if p := filepath.Join(repo, ".gjallar.yaml"); fileExists(p) {
		var err error
		if cfg, err = LoadConfig(p); err != nil {
			t.Fatal(err)
		}
		if render.Charts, err = ChartSettingsFrom(cfg); err != nil {
			t.Fatal(err)
		}
	}
	engine, err := rules.NewEngine(builtin.Rules(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := Lint(engine, Options{Paths: []string{repo}, Render: render})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestRepos lints every fixture repository and requires exactly the
// findings its want.txt lists, at those files and lines.
func TestRepos(t *testing.T) {
	entries, err := os.ReadDir(reposDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		repo := filepath.Join(reposDir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			matchRepoFindings(t, repo, lintRepo(t, repo, RenderOptions{}).Findings, readRepoWants(t, repo))
		})
	}
	if n < 7 {
		t.Fatalf("only %d fixture repositories in %s", n, reposDir)
	}
}

func matchRepoFindings(t *testing.T, repo string, got []Located, wants []repoWant) {
	t.Helper()
	prefix := filepath.ToSlash(repo) + "/"
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, f := range got {
			if !used[i] && strings.TrimPrefix(f.File, prefix) == w.file && f.Line == w.line &&
				f.Rule == w.rule && f.Severity == w.severity && strings.Contains(f.Message, w.text) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %s:%d %s %s: %q", w.file, w.line, w.severity, w.rule, w.text)
		}
	}
	for i, f := range got {
		if !used[i] {
			t.Errorf("unexpected %s:%d:%d %s %s: %s", strings.TrimPrefix(f.File, prefix), f.Line, f.Column, f.Severity, f.Rule, f.Message)
		}
	}
}

// Every finding in a rendered object names what it was rendered from.
func TestRenderedFindingsNameTheirRendering(t *testing.T) {
	for _, repo := range []string{"chart-mistakes", "overlays", "vendored-deps"} {
		for _, f := range lintRepo(t, filepath.Join(reposDir, repo), RenderOptions{}).Findings {
			if !strings.Contains(f.Message, "[chart ") && !strings.Contains(f.Message, "[kustomization ") {
				t.Errorf("%s: %s:%d does not name its chart or kustomization: %s", repo, f.File, f.Line, f.Message)
			}
			if strings.Contains(f.Message, "[chart ") && !strings.Contains(f.File, "/templates/") && !strings.Contains(f.Message, ", template ") {
				t.Errorf("%s: %s:%d is placed outside its template but does not name it: %s", repo, f.File, f.Line, f.Message)
			}
		}
	}
}

// fixRepo copies a fixture repository and runs --fix on the copy.
func fixRepo(t *testing.T, repo string) (dir string, before map[string][]byte, rep *Report, res *FixResult) {
	t.Helper()
	dir = copyTree(t, filepath.Join(reposDir, repo))
	before = snapshot(t, dir)
	var render RenderOptions
	if p := filepath.Join(dir, ".gjallar.yaml"); fileExists(p) {
		cfg, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		render.Charts, _ = ChartSettingsFrom(cfg)
	}
	engine, _ := rules.NewEngine(builtin.Rules(), nil)
	rep, res, err := Fix(engine, Options{Paths: []string{dir}, Render: render})
	if err != nil {
		t.Fatal(err)
	}
	return dir, before, rep, res
}

// --fix never edits rendered output: a chart's fixable findings stay,
// every file stays as it was, and the messages say what to change instead.
func TestFixLeavesRenderedOutputAlone(t *testing.T) {
	dir, before, rep, res := fixRepo(t, "chart-mistakes")
	if res.Applied != 0 || len(res.Files) != 0 {
		t.Errorf("--fix applied %d fixes to %v", res.Applied, res.Files)
	}
	if after := snapshot(t, dir); !equalSnapshots(before, after) {
		t.Error("--fix changed files of a chart")
	}
	advised := 0
	for _, f := range rep.Findings {
		if f.Fix != nil {
			t.Errorf("%s:%d %s still carries a fix", f.File, f.Line, f.Rule)
		}
		if strings.Contains(f.Message, "--fix does not edit rendered output: set ") {
			advised++
		}
	}
	if advised != 2 {
		t.Errorf("%d findings say what to change instead of a fix, want 2 (providers list, config hash)", advised)
	}
}

// A generator's config.json is a file the user keeps, not rendered
// output: --fix rewrites it there, and only it.
func TestFixRewritesGeneratorSource(t *testing.T) {
	dir, before, rep, res := fixRepo(t, "overlays")
	fixed := filepath.Join(dir, "overlays", "prod", "config.json")
	if len(res.Files) != 1 || res.Files[0] != filepath.ToSlash(fixed) {
		t.Fatalf("--fix changed %v, want only %s", res.Files, fixed)
	}
	after := snapshot(t, dir)
	for p, data := range before {
		if p != fixed && !bytes.Equal(data, after[p]) {
			t.Errorf("--fix changed %s", p)
		}
	}
	if !bytes.Contains(after[fixed], []byte(`"providers": {`)) {
		t.Errorf("providers not rewritten as an object:\n%s", after[fixed])
	}
	for _, f := range rep.Findings {
		if f.Rule == "bifrost-providers-map" {
			t.Errorf("still reported after --fix: %s:%d %s", f.File, f.Line, f.Message)
		}
	}
}

// A chart file read whole with .Files.Get is the repository's own file:
// --fix rewrites it, and nothing else in the chart.
func TestFixRewritesChartFile(t *testing.T) {
	dir, before, rep, res := fixRepo(t, "vendored-deps")
	fixed := filepath.Join(dir, "stack", "files", "routing.json")
	if len(res.Files) != 1 || res.Files[0] != filepath.ToSlash(fixed) {
		t.Fatalf("--fix changed %v, want only %s", res.Files, fixed)
	}
	after := snapshot(t, dir)
	for p, data := range before {
		if p != fixed && !bytes.Equal(data, after[p]) {
			t.Errorf("--fix changed %s", p)
		}
	}
	for _, f := range rep.Findings {
		if f.Rule == "bifrost-providers-map" {
			t.Errorf("still reported after --fix: %s:%d %s", f.File, f.Line, f.Message)
		}
	}
}

// An overlay linted alone builds with its base from outside the given
// path; the files a kustomization uses are never linted on their own.
func TestKustomizeRootsAndConsumedFiles(t *testing.T) {
	prod := filepath.Join(reposDir, "overlays", "overlays", "prod")
	in, err := Load([]string{prod}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.renderings) != 1 || len(in.Documents) != 4 {
		t.Fatalf("%d renderings, %d objects; want 1 build of 4 objects", len(in.renderings), len(in.Documents))
	}
	in, err = Load([]string{filepath.Join(reposDir, "overlays")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.renderings) != 2 {
		t.Errorf("%d renderings, want the two overlays (the base is not a root)", len(in.renderings))
	}
	for _, d := range in.Documents {
		if d.rendering == nil {
			t.Errorf("%s was linted on its own although a kustomization uses it", d.Source.Name)
		}
	}
	// The Deployment refers to the generated, hashed name after the build,
	// and that ConfigMap needs no config hash.
	for _, r := range in.renderings {
		var cm, dep *rules.Object
		for _, d := range r.docs {
			switch d.Object.Ref().Kind {
			case "ConfigMap":
				cm = d.Object
			case "Deployment":
				dep = d.Object
			}
		}
		if cm == nil || dep == nil {
			t.Fatalf("%s: no ConfigMap or Deployment", r.what)
		}
		tmpl, _ := dep.PodTemplate()
		refs := tmpl.ConfigMapRefs()
		if len(refs) != 1 || refs[0].Name != cm.Name() {
			t.Errorf("%s: Deployment reads %v, the generated ConfigMap is %s", r.what, refs, cm.Name())
		}
		if !rollout.NameCarriesContentHash(cm) {
			t.Errorf("%s: %s is not recognised as named by its content", r.what, cm.Name())
		}
	}
}

// --set on the command line overrides values files, and a finding about a
// value --set touched points at the template, not at the values file line
// the flag overrode.
func TestChartSetFlags(t *testing.T) {
	repo := filepath.Join(reposDir, "chart-mistakes")
	count := func(rep *Report, rule string) []Located {
		var out []Located
		for _, f := range rep.Findings {
			if f.Rule == rule {
				out = append(out, f)
			}
		}
		return out
	}
	if got := count(lintRepo(t, repo, RenderOptions{Set: []string{"client.model=openai/glm-5"}}), "model-provider-prefix"); len(got) != 0 {
		t.Errorf("--set client.model=openai/glm-5 left %v", got)
	}
	got := count(lintRepo(t, repo, RenderOptions{Set: []string{"client.model=glm-4"}}), "model-provider-prefix")
	if len(got) != 1 || !strings.HasSuffix(got[0].File, "bifrost/templates/client.yaml") || got[0].Line != 19 {
		t.Errorf("a --set value placed at %v, want bifrost/templates/client.yaml:19", got)
	}
}

func TestMissingValuesFileIsAUsageError(t *testing.T) {
	engine, _ := rules.NewEngine(builtin.Rules(), nil)
	_, _, err := Lint(engine, Options{Paths: []string{filepath.Join(reposDir, "chart-mistakes")}, Render: RenderOptions{ValueFiles: []string{"nope.yaml"}}})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "values file nope.yaml") {
		t.Errorf("error %v, want a usage error naming nope.yaml", err)
	}
}

func TestChartSettingsErrors(t *testing.T) {
	for text, want := range map[string]string{
		"charts:\n  - path: a\n    valuse: [x]\n": `.gjallar.yaml:3: charts: unknown field "valuse"`,
		"charts:\n  - release: x\n":               `.gjallar.yaml:2: charts: an entry needs the chart's path`,
		"charts: {path: a}\n":                     `.gjallar.yaml:1: charts must be a list`,
	} {
		cfg, err := rules.ParseConfig(".gjallar.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ChartSettingsFrom(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}

// The template map keeps keys on their lines and knows which .Values each
// line's actions read, through with blocks too.
func TestMapTemplate(t *testing.T) {
	tm := mapTemplate([]byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "x.fullname" . }}-app
spec:
  template:
    spec:
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            {{- range .Values.env }}
            - name: {{ .name }}
            {{- end }}
`))
	doc := tm.document("Deployment", 0)
	if doc == nil {
		t.Fatal("template not read as YAML")
	}
	for path, line := range map[string]int{"metadata.name": 4, "spec.template.spec.securityContext": 9, "spec.template.spec.containers.0.image": 14} {
		_, key, _ := walk(doc.root, rules.P(toAny(strings.Split(path, "."))...))
		if key == nil || doc.base+key.Line != line {
			t.Errorf("%s: key %v, want line %d", path, key, line)
		}
	}
	_, sc, _ := walk(doc.root, rules.P("spec", "template", "spec", "securityContext"))
	refs, _ := tm.actionsAt(9, sc)
	if len(refs) != 1 || refs[0].String() != "podSecurityContext" {
		t.Errorf("securityContext reads %v, want podSecurityContext (through the with)", refs)
	}
	if refs := distinctPaths(tm.refs[14]); len(refs) != 2 {
		t.Errorf("image line reads %v, want image.repository and image.tag", refs)
	}
	if refs := tm.refs[17]; len(refs) != 0 {
		t.Errorf("inside range, .name is not a values path: %v", refs)
	}
}

// copyTree copies a fixture repository into a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[p], _ = os.ReadFile(p)
		}
		return nil
	})
	return out
}

func equalSnapshots(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
