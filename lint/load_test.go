package lint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aider"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func lintDir(t *testing.T, paths ...string) *Report {
	t.Helper()
	e, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := Lint(e, Options{Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

const cmArray = `apiVersion: v1
kind: ConfigMap
metadata:
  name: bifrost-config
data:
  config.json: |
    {
      "providers": [{"name": "openai", "keys": [{"name": "k", "weight": 1, "models": ["*"]}]}]
    }
`

func TestInputForms(t *testing.T) {
	list := "apiVersion: v1\nkind: List\nitems:\n" + indent(cmArray, "  - ", "    ")
	jsonManifest := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"},
 "data": {"config.json": "{\"providers\": [{\"name\": \"openai\", \"keys\": []}]}"}}`
	dir := writeFiles(t, map[string]string{
		"multi.yaml":             "# leading comment\n---\n" + cmArray + "---\n---\n" + strings.Replace(cmArray, "bifrost-config", "second", 1) + "...\n",
		"list.yml":               list,
		"manifest.json":          jsonManifest,
		"crlf.yaml":              strings.ReplaceAll(cmArray, "\n", "\r\n"),
		"bom.yaml":               "\ufeff" + cmArray,
		"notes.txt":              cmArray, // not a manifest extension
		"values.yaml":            "replicaCount: 3\nimage: {tag: x}\n",
		".hidden/cm.yaml":        cmArray,
		"chart/Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/templates/x.yaml": "{{- if .Values.x }}\nkind: {{ .Values.kind }}\n{{- end }}\n",
	})
	rep := lintDir(t, dir)
	got := map[string][]int{}
	for _, f := range rep.Findings {
		if f.Rule == "parse-error" {
			t.Errorf("unexpected parse error: %s:%d %s", f.File, f.Line, f.Message)
		}
		if f.Rule == "bifrost-providers-map" {
			rel, _ := filepath.Rel(dir, f.File)
			got[filepath.ToSlash(rel)] = append(got[filepath.ToSlash(rel)], f.Line)
		}
	}
	want := map[string][]int{
		"multi.yaml":    {10, 21},
		"list.yml":      {11},
		"manifest.json": {2},
		"crlf.yaml":     {8},
		"bom.yaml":      {8},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("providers findings by file and line = %v, want %v", got, want)
	}
	if rep.Objects != 6 {
		t.Errorf("objects = %d, want 6", rep.Objects)
	}
}

func indent(s, first, rest string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = first + lines[i]
		} else {
			lines[i] = rest + lines[i]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestBadInput covers each class of bad input: each gives a parse-error
// finding naming the file and line, and none panics or hangs.
func TestBadInput(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n")
	bomb.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&bomb, "%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	deepYAML := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	deepJSON := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	cases := []struct {
		name, text string
		line       int
		contains   string
	}{
		{"malformed.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n", 5, "cannot parse YAML"},
		{"second-doc.yaml", cmArray + "---\nkind: [\n", 11, "cannot parse YAML"},
		{"bomb.yaml", bomb.String(), 1, "alias bomb"},
		{"deep.yaml", deepYAML, 4, ""},
		{"deep.json", deepJSON, 1, ""},
		{"garbage.yaml", "apiVersion: v1\n\x00\x01\x02\xff\xfe", 2, "binary data"},
		{"latin1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n", 3, "not valid UTF-8"},
		{"tabs.yaml", "apiVersion: v1\nkind: ConfigMap\n\tmetadata: {}\n", 3, "cannot parse YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{c.name: c.text})
			rep := lintDir(t, dir)
			var pe []Located
			for _, f := range rep.Findings {
				if f.Rule == "parse-error" {
					pe = append(pe, f)
				}
			}
			if len(pe) != 1 {
				t.Fatalf("parse errors = %+v, want exactly one", rep.Findings)
			}
			f := pe[0]
			if !strings.HasSuffix(f.File, c.name) || f.Line != c.line || f.Severity != rules.Error || !strings.Contains(f.Message, c.contains) {
				t.Errorf("got %s:%d %s %q", f.File, f.Line, f.Severity, f.Message)
			}
		})
	}
}

// TestAliasBombMemoryBounded measures what linting a billion-laughs
// document allocates: the expansion stops at the budget, so it stays far
// below what the full 9^9 expansion would need.
func TestAliasBombMemoryBounded(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&bomb, "  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	in, err := Load([]string{"-"}, strings.NewReader(bomb.String()), nil)
	runtime.ReadMemStats(&after)
	if err != nil || len(in.Problems) != 1 || len(in.Documents) != 0 {
		t.Fatalf("want one parse error and no object, got %v %+v", err, in)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB", alloc>>10)
	if alloc > 64<<20 {
		t.Errorf("loading the alias bomb allocated %d MiB", alloc>>20)
	}
}

func TestDeepJSONInsideConfigMap(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	text := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  config.json: '{\"providers\": " + deep + "}'\n"
	rep := lintDir(t, writeFiles(t, map[string]string{"deep.yaml": text}))
	found := false
	for _, f := range rep.Findings {
		if f.Rule == "bifrost-config-schema" && strings.Contains(f.Message, "not valid JSON") && f.Line == 5 {
			found = true
		}
	}
	if !found {
		t.Errorf("no invalid-JSON finding on line 5: %+v", rep.Findings)
	}
}

func TestManyDocumentsInOneFile(t *testing.T) {
	var b bytes.Buffer
	const n = 30000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: ns}\ndata: {k: v}\n", i)
	}
	b.WriteString("---\nbroken: [\n")
	rep := lintDir(t, writeFiles(t, map[string]string{"many.yaml": b.String()}))
	if rep.Objects != n {
		t.Errorf("objects = %d, want %d", rep.Objects, n)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Line != 5*n+2 {
		t.Errorf("want one parse error on line %d, got %+v", 5*n+2, rep.Findings)
	}
}

func TestFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("#"), 1<<20)
	for i := 0; i <= MaxFileSize>>20; i++ {
		f.Write(line)
	}
	f.Close()
	rep := lintDir(t, dir)
	if len(rep.Findings) != 1 || !strings.Contains(rep.Findings[0].Message, "larger than") {
		t.Errorf("findings = %+v", rep.Findings)
	}
}

func TestStdinAndMissingPath(t *testing.T) {
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	rep, _, err := Lint(e, Options{Paths: []string{"-"}, Stdin: strings.NewReader(cmArray)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].File != StdinName || rep.Findings[0].Line != 8 {
		t.Errorf("stdin findings = %+v", rep.Findings)
	}
	_, _, err = Lint(e, Options{Paths: []string{"does/not/exist"}})
	if _, ok := err.(*UsageError); !ok || !strings.Contains(err.Error(), "does/not/exist") {
		t.Errorf("missing path: err = %v, want a UsageError naming it", err)
	}
}

func TestIgnoreGlobs(t *testing.T) {
	dir := writeFiles(t, map[string]string{"keep/a.yaml": cmArray, "vendor/x/b.yaml": cmArray, "gen/c.generated.yaml": cmArray})
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	rep, _, err := Lint(e, Options{Paths: []string{dir}, Ignore: []string{"**/vendor/**", "**/*.generated.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || !strings.HasSuffix(rep.Findings[0].File, "keep/a.yaml") {
		t.Errorf("findings = %+v", rep.Findings)
	}
	if _, _, err := Lint(e, Options{Paths: []string{dir}, Ignore: []string{"[bad"}}); err == nil {
		t.Error("invalid glob accepted")
	}
}

// TestAiderConfigFiles: a file named .aider.conf.yml is loaded as an
// AiderConfig pseudo-object whose findings point at their line; other
// kind-less YAML and hidden directories stay skipped.
func TestAiderConfigFiles(t *testing.T) {
	text := "# Aider through Bifrost\nopenai-api-base: http://bifrost-service:8080/v1\nmodel: openai/glm-5\n"
	dir := writeFiles(t, map[string]string{
		"client/.aider.conf.yml":  text,
		"client/aider.conf.yml":   text, // not the name Aider reads
		"client/values.yml":       "model: openai/glm-5\n",
		".config/.aider.conf.yml": text, // hidden directory
	})
	in, err := Load([]string{dir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range in.Documents {
		if d.Object.GroupKind() == aider.ConfigKind {
			rel, _ := filepath.Rel(dir, filepath.FromSlash(d.Object.Name()))
			names = append(names, filepath.ToSlash(rel))
		} else {
			t.Errorf("unexpected object %s from %s", d.Object.Ref(), d.Source.Name)
		}
	}
	if len(names) != 1 || names[0] != "client/.aider.conf.yml" {
		t.Fatalf("Aider configs loaded: %v, want only client/.aider.conf.yml", names)
	}
	if got := in.Documents[0].Object.Content["model"]; got != "openai/glm-5" {
		t.Errorf("model = %v: the file's YAML is the object's content", got)
	}
	rep := lintDir(t, dir)
	var found []string
	for _, f := range rep.Findings {
		found = append(found, fmt.Sprintf("%s:%d:%d %s", filepath.Base(f.File), f.Line, f.Column, f.Rule))
	}
	if len(found) != 1 || found[0] != ".aider.conf.yml:3:1 aider-model-prefix" {
		t.Errorf("findings = %v, want the model line of .aider.conf.yml", found)
	}
}

// TestParseIsLoadsFloor checks that the benchmark floor walks, splits and
// parses what Load does: the same files, documents and parse errors.
func TestParseIsLoadsFloor(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml":        cmArray + "---\n" + cmArray + "---\n# only a comment\n",
		"b/c.yml":       "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
		"broken.yaml":   "apiVersion: v1\nkind: [\n",
		"config.json":   `{"providers": {"openai": {"keys": []}}}`,
		".hidden/x.yml": cmArray,
	})
	loaded, err := Load([]string{dir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse([]string{dir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Sources) != len(loaded.Sources) || len(parsed.Problems) != len(loaded.Problems) {
		t.Errorf("Parse read %d files with %d problems, Load %d with %d", len(parsed.Sources), len(parsed.Problems), len(loaded.Sources), len(loaded.Problems))
	}
	if parsed.Parsed != loaded.Parsed || parsed.Parsed != 4 {
		t.Errorf("Parse parsed %d documents, Load %d, want 4", parsed.Parsed, loaded.Parsed)
	}
	if len(parsed.Documents) != 0 {
		t.Errorf("Parse kept %d documents", len(parsed.Documents))
	}
	for _, s := range parsed.Sources {
		if s.Text != nil {
			t.Errorf("Parse kept the text of %s", s.Name)
		}
	}
}
