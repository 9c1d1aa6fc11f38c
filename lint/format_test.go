package lint

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/santhosh-tekuri/jsonschema/v6"

	// The SARIF 2.1.0 schema is read from this module's source.
	_ "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenReport lints the README's example from the repository root, so
// file names in the output are the ones a user sees.
func goldenReport(t *testing.T) (*Report, Meta) {
	t.Chdir("..")
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	rep, _, err := Lint(e, Options{Paths: []string{"testdata/examples/runbook"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("the example has no findings to render")
	}
	return rep, Meta{Rules: e.Rules(), Version: "test"}
}

func TestGoldenFormats(t *testing.T) {
	rep, meta := goldenReport(t)
	for name, ext := range map[string]string{"text": "txt", "json": "json", "sarif": "sarif", "github": "github.txt", "junit": "junit.xml", "codeclimate": "codeclimate.json"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Formats[name].Format(&buf, rep, meta); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", "runbook."+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lint -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s output differs from %s (go test ./lint -update rewrites it; review the diff):\n%s", name, golden, buf.String())
			}
		})
	}
}

func TestJSONFormatShape(t *testing.T) {
	rep, meta := goldenReport(t)
	var buf bytes.Buffer
	if err := Formats["json"].Format(&buf, rep, meta); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Findings {
		for _, k := range []string{"rule", "severity", "message", "file", "line", "column", "object", "path"} {
			if _, ok := f[k]; !ok {
				t.Errorf("finding lacks %q: %v", k, f)
			}
		}
		obj := f["object"].(map[string]any)
		for _, k := range []string{"apiVersion", "kind", "name"} {
			if obj[k] == "" || obj[k] == nil {
				t.Errorf("object lacks %q: %v", k, obj)
			}
		}
	}
	s := rep.Summarize()
	if out.Summary["errors"] != s.Errors || out.Summary["warnings"] != s.Warnings || out.Summary["files"] != 3 {
		t.Errorf("summary = %v", out.Summary)
	}
}

// TestSARIFValid checks the SARIF output, as bytes, against the official
// SARIF 2.1.0 JSON Schema, and the parts GitHub code scanning insists on.
// The schema is read from the go-sarif module's source, so it is the
// standard's text, not ours.
func TestSARIFValid(t *testing.T) {
	rep, meta := goldenReport(t)
	var buf bytes.Buffer
	if err := Formats["sarif"].Format(&buf, rep, meta); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string                `json:"id"`
						Help struct{ Text string } `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(builtin.Rules()) {
		t.Errorf("%d rules in the driver", len(run.Tool.Driver.Rules))
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.Help.Text == "" {
			t.Errorf("rule %s has no help text", r.ID)
		}
	}
	if len(run.Results) != len(rep.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(rep.Findings))
	}
	for _, res := range run.Results {
		loc := res.Locations[0].PhysicalLocation
		if uri := loc.ArtifactLocation.URI; strings.HasPrefix(uri, "/") || !strings.HasPrefix(uri, "testdata/") {
			t.Errorf("uri %q is not relative to the repository root", uri)
		}
		if loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 {
			t.Errorf("region %+v", loc.Region)
		}
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", res.RuleIndex, res.RuleID)
		}
	}
}

// sarifSchema compiles the SARIF 2.1.0 schema held as a string constant in
// go-sarif's source.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go")
	file, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	ast.Inspect(file, func(n ast.Node) bool {
		if spec, ok := n.(*ast.ValueSpec); ok && len(spec.Names) == 1 && spec.Names[0].Name == "schema" {
			if lit, ok := spec.Values[0].(*ast.BasicLit); ok {
				text, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if text == "" {
		t.Fatalf("no schema constant in %s", src)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// The schema check above must be able to fail.
func TestSARIFSchemaRejects(t *testing.T) {
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"fatal","message":{"text":"m"}}]}]}`))
	if err := sarifSchema(t).Validate(doc); err == nil {
		t.Fatal("schema accepted level fatal")
	}
}

func TestSARIFArtifactPaths(t *testing.T) {
	wd, _ := os.Getwd()
	cases := map[string]string{
		"deploy/app.yaml":                       "deploy/app.yaml",
		"./deploy/my app.yaml":                  "deploy/my%20app.yaml",
		filepath.Join(wd, "deploy", "app.yaml"): "deploy/app.yaml",
		StdinName:                               "stdin",
	}
	for in, want := range cases {
		if got := sarifArtifact(in); got.URI != want {
			t.Errorf("%s: %+v, want %s", in, got, want)
		}
	}
	if got := sarifArtifact("../elsewhere/app.yaml"); !strings.HasPrefix(got.URI, "file:///") || got.URIBaseID != "" {
		t.Errorf("outside the root: %+v, want an absolute file URI without a base", got)
	}
}

// TestJUnitReadByConsumer reads the JUnit report with go-junit, the parser
// CI dashboards built in Go use, and checks it says what the report says:
// a suite per rule, a failed case per error or warning, with its message.
func TestJUnitReadByConsumer(t *testing.T) {
	rep, meta := goldenReport(t)
	var buf bytes.Buffer
	if err := Formats["junit"].Format(&buf, rep, meta); err != nil {
		t.Fatal(err)
	}
	suites, err := junit.Ingest(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != len(meta.Rules) {
		t.Errorf("%d suites for %d rules", len(suites), len(meta.Rules))
	}
	failed := map[string]bool{}
	for _, s := range suites {
		for _, c := range s.Tests {
			if c.Classname != s.Name {
				t.Errorf("case %q of suite %s has classname %q", c.Name, s.Name, c.Classname)
			}
			if c.Status == junit.StatusFailed {
				failed[s.Name+"\x00"+c.Message] = true
			}
		}
	}
	want := 0
	for _, f := range rep.Findings {
		if f.Severity >= rules.Warning {
			want++
			if !failed[f.Rule+"\x00"+f.Message] {
				t.Errorf("no failed case for %s:%d %s", f.File, f.Line, f.Rule)
			}
		}
	}
	if want == 0 || len(failed) != want {
		t.Errorf("%d failed cases, want %d", len(failed), want)
	}
	var total junit.Totals
	for _, s := range suites {
		s.Aggregate()
		total.Tests += s.Totals.Tests
		total.Failed += s.Totals.Failed
	}
	var head struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &head); err != nil {
		t.Fatal(err)
	}
	if head.Tests != total.Tests || head.Failures != total.Failed {
		t.Errorf("testsuites says %d tests, %d failures; its cases add up to %d, %d", head.Tests, head.Failures, total.Tests, total.Failed)
	}
}

// TestCodeClimateValid checks the Code Quality report against what GitLab
// documents it requires (testdata/ci/gitlab-codequality.schema.json), and
// that fingerprints are unique, since GitLab merges issues that share one.
func TestCodeClimateValid(t *testing.T) {
	rep, meta := goldenReport(t)
	var buf bytes.Buffer
	if err := Formats["codeclimate"].Format(&buf, rep, meta); err != nil {
		t.Fatal(err)
	}
	sch := codeQualitySchema(t)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("Code Quality report does not validate: %v", err)
	}
	var issues []struct {
		Fingerprint string `json:"fingerprint"`
		Location    struct {
			Path string `json:"path"`
		} `json:"location"`
	}
	if err := json.Unmarshal(buf.Bytes(), &issues); err != nil {
		t.Fatal(err)
	}
	if len(issues) != len(rep.Findings) {
		t.Fatalf("%d issues for %d findings", len(issues), len(rep.Findings))
	}
	seen := map[string]bool{}
	for _, is := range issues {
		if seen[is.Fingerprint] {
			t.Errorf("fingerprint %s twice", is.Fingerprint)
		}
		seen[is.Fingerprint] = true
		if !strings.HasPrefix(is.Location.Path, "testdata/examples/runbook/") {
			t.Errorf("path %q is not relative to the repository root", is.Location.Path)
		}
	}
	// The schema check must be able to fail.
	for _, bad := range []string{
		`[{"description":"d","check_name":"c","severity":"error","fingerprint":"f","location":{"path":"a.yaml","lines":{"begin":1}}}]`,
		`[{"description":"d","check_name":"c","severity":"major","location":{"path":"a.yaml","lines":{"begin":1}}}]`,
		`[{"description":"d","check_name":"c","severity":"major","fingerprint":"f","location":{"path":"/abs/a.yaml","lines":{"begin":1}}}]`,
		`[{"description":"d","check_name":"c","severity":"major","fingerprint":"f","location":{"path":"a.yaml"}}]`,
	} {
		doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if sch.Validate(doc) == nil {
			t.Errorf("schema accepted %s", bad)
		}
	}
}

func codeQualitySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("testdata", "ci", "gitlab-codequality.schema.json")) // goldenReport moved to the repository root
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestObjectFindings renders findings without a file, as the audit makes
// them about objects in a cluster, and a notice: every format must name
// the object and field path instead of a file position, and SARIF must
// still validate.
func TestObjectFindings(t *testing.T) {
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	rep := &Report{
		Findings: []Located{{Finding: rules.Finding{
			Rule: "bifrost-fsgroup", Severity: rules.Error, Message: "no fsGroup",
			Object: rules.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a", Name: "bifrost"},
			Path:   rules.Path{"spec", "template", "spec"},
		}}},
		Notices: []Notice{{Level: rules.Warning, Message: "may not list services"}},
		Objects: 1,
	}
	meta := Meta{Rules: e.Rules(), Version: "test"}
	render := func(name string) string {
		var buf bytes.Buffer
		if err := Formats[name].Format(&buf, rep, meta); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if got, want := render("text"), "Deployment team-a/bifrost spec.template.spec: error bifrost-fsgroup: no fsGroup\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	gh := render("github")
	if !strings.Contains(gh, "::error title=bifrost-fsgroup::Deployment team-a/bifrost spec.template.spec: no fsGroup\n") {
		t.Errorf("github = %q", gh)
	}
	if strings.Contains(gh, "file=") || !strings.Contains(gh, "::warning title=gjallar::may not list services") {
		t.Errorf("github = %q", gh)
	}
	var js struct {
		Findings []map[string]any `json:"findings"`
		Notices  []Notice         `json:"notices"`
	}
	if err := json.Unmarshal([]byte(render("json")), &js); err != nil {
		t.Fatal(err)
	}
	if _, has := js.Findings[0]["file"]; has || js.Findings[0]["path"] != "spec.template.spec" || len(js.Notices) != 1 || js.Notices[0].Level != rules.Warning {
		t.Errorf("json = %+v", js)
	}
	sarif := render("sarif")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(sarif))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
	for _, want := range []string{`"fullyQualifiedName": "apps/v1/Deployment/team-a/bifrost"`, `"toolExecutionNotifications"`, `"text": "may not list services"`} {
		if !strings.Contains(sarif, want) {
			t.Errorf("SARIF lacks %s:\n%s", want, sarif)
		}
	}
	if strings.Contains(sarif, "physicalLocation") {
		t.Error("SARIF gives a file position for a finding without a file")
	}
}
