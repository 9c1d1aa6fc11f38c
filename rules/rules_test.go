package rules_test

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
)

// want is one expected finding of the rule under test in a bad fixture.
type want struct {
	line     int
	severity rules.Severity
	contains string
}

// badFixtures lists, per rule, every file or directory under
// testdata/rules/<rule>/bad and the findings of that rule it must produce,
// no more and no fewer. A directory is linted as one input (cross-file
// cases); a file alone.
var badFixtures = map[string]map[string][]want{
	"bifrost-providers-map": {
		"list-with-name.yaml":     {{10, rules.Error, `{"openai": {"keys": [...]}}`}},
		"list-with-provider.yaml": {{8, rules.Error, `{"openai": {"keys": [...]}}`}},
		"ambiguous.yaml":          {{9, rules.Error, "providers is a list"}},
		"one-line.yaml":           {{7, rules.Error, "providers is a list"}},
		"secret-data.yaml":        {{7, rules.Error, "providers is a list"}},
		"config.json":             {{3, rules.Error, `write it as an object keyed by provider name: {"openai"`}},
	},
	"bifrost-otel-trace-type": {
		"genai-extension.yaml": {{15, rules.Error, `trace_type is "genai_extension"`}},
		"missing.yaml":         {{10, rules.Error, "has no trace_type"}},
		"profiles.json":        {{11, rules.Error, "trace_type is 1"}, {12, rules.Error, "has no trace_type"}},
	},
	"bifrost-fsgroup": {
		"deployment.yaml":      {{12, rules.Error, "set spec.template.spec.securityContext.fsGroup: 1000"}},
		"statefulset.yaml":     {{13, rules.Error, `volumeClaimTemplate "data"`}},
		"pod-and-cronjob.yaml": {{5, rules.Error, "set spec.securityContext.fsGroup"}, {22, rules.Error, `ephemeral volume "scratch"`}},
	},
	"public-nlb-cloudfront": {
		"service.yaml": {
			{8, rules.Error, "admits the whole internet, bypassing CloudFront"},
			{23, rules.Error, "source range ::/0"},
			{27, rules.Error, "source range 0.0.0.0/0"},
			{38, rules.Warning, "cannot verify"},
		},
		"gateway.yaml": {
			{10, rules.Error, "bypassing CloudFront"},
			{26, rules.Error, `"sg-not-a-prefix-list"`},
			{40, rules.Error, "bypassing CloudFront"},
		},
	},
	"model-provider-prefix": {
		"fallbacks.yaml": {
			{17, rules.Error, `fallback "gpt-4o" has no provider prefix, so Bifrost silently drops it from the list; write "openai/gpt-4o"`},
			{17, rules.Error, `"openai-glm-5" joins provider and model with "-" where Bifrost needs "/"`},
			{17, rules.Error, `write "openai/meta-llama/Llama-3.1-8B"`},
		},
		"env.yaml": {
			{20, rules.Error, `sends MODEL to Bifrost (OPENAI_API_BASE points there): "gpt-4o" has no provider prefix`},
			{22, rules.Error, `write "anthropic/claude-sonnet-4"`},
			{23, rules.Error, `CODER_MODEL (from ConfigMap agent-models key coder)`},
		},
		"service-selects-bifrost": {{20, rules.Error, `write "openai/gpt-4o"`}},
	},
	"config-rollout-hash": {
		"missing.yaml": {{20, rules.Warning, "pod template has no gjallar.dev/config-hash"}},
		"stale.yaml":   {{23, rules.Error, "is stale"}},
		"opt-in.yaml":  {{26, rules.Warning, "ConfigMaps app-env, app-settings"}},
	},
	"bifrost-config-schema": {
		"invalid-json.yaml": {{10, rules.Error, "is not valid JSON (line 4, column 3 of the JSON"}},
		"wrong-types.yaml": {
			{9, rules.Error, "additional properties 'provider' not allowed"},
			{11, rules.Error, "keys[0].weight: got string, want number"},
			{11, rules.Error, "keys[0].models: got string, want array"},
		},
		"otel-protocol.json": {{12, rules.Error, "value must be one of 'http', 'grpc'"}},
	},
	"parse-error": {
		"bad-type.yaml": {{8, rules.Error, "spec.template.spec does not decode"}},
	},
}

func lintPath(t *testing.T, path string) []lint.Located {
	t.Helper()
	engine, err := rules.NewEngine(rules.Builtin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	return rep.Findings
}

func onlyRule(fs []lint.Located, id string) []lint.Located {
	var out []lint.Located
	for _, f := range fs {
		if f.Rule == id {
			out = append(out, f)
		}
	}
	return out
}

func TestRuleFixtures(t *testing.T) {
	for _, r := range rules.Builtin() {
		dir := filepath.Join("..", "testdata", "rules", r.ID)
		t.Run(r.ID, func(t *testing.T) {
			goods, _ := os.ReadDir(filepath.Join(dir, "good"))
			bads, _ := os.ReadDir(filepath.Join(dir, "bad"))
			if len(goods) == 0 || len(bads) == 0 {
				t.Fatalf("rule %s needs good and bad fixtures in %s", r.ID, dir)
			}
			for _, g := range goods {
				t.Run("good/"+g.Name(), func(t *testing.T) {
					for _, f := range onlyRule(lintPath(t, filepath.Join(dir, "good", g.Name())), r.ID) {
						t.Errorf("unexpected finding %s:%d: %s", f.File, f.Line, f.Message)
					}
				})
			}
			expected := badFixtures[r.ID]
			for _, b := range bads {
				t.Run("bad/"+b.Name(), func(t *testing.T) {
					wants, ok := expected[b.Name()]
					if !ok {
						t.Fatalf("bad fixture %s has no expectations in badFixtures", b.Name())
					}
					got := onlyRule(lintPath(t, filepath.Join(dir, "bad", b.Name())), r.ID)
					matchFindings(t, got, wants)
				})
			}
			for name := range expected {
				if _, err := os.Stat(filepath.Join(dir, "bad", name)); err != nil {
					t.Errorf("badFixtures names %s, which does not exist", name)
				}
			}
		})
	}
}

// matchFindings pairs each expectation with a distinct finding on its line
// whose severity matches and whose message contains the text.
func matchFindings(t *testing.T, got []lint.Located, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, f := range got {
			if !used[i] && f.Line == w.line && f.Severity == w.severity && strings.Contains(f.Message, w.contains) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %s finding on line %d containing %q", w.severity, w.line, w.contains)
		}
	}
	for i, f := range got {
		if !used[i] {
			t.Errorf("unexpected finding %s:%d:%d: %s %s", f.File, f.Line, f.Column, f.Severity, f.Message)
		}
	}
	if t.Failed() {
		var lines []string
		for _, f := range got {
			lines = append(lines, f.File+":"+strconv.Itoa(f.Line)+": "+f.Message)
		}
		sort.Strings(lines)
		t.Logf("all findings:\n%s", strings.Join(lines, "\n"))
	}
}
