package builtin_test

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// want is one expected finding of the rule under test in a bad fixture.
type want struct {
	line     int
	severity rules.Severity
	contains string
}

// readWants reads testdata/rules/<rule>/want.txt: for every file or
// directory under bad/, each finding of that rule it must produce, no more
// and no fewer, one per line as "fixture:line severity: text". A directory
// is linted as one input (cross-file cases); a file alone.
func readWants(t *testing.T, dir string) map[string][]want {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]want{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where, rest, ok1 := strings.Cut(line, " ")
		sev, text, ok2 := strings.Cut(rest, ": ")
		name, num, ok3 := strings.Cut(where, ":")
		n, err := strconv.Atoi(num)
		s, serr := rules.ParseSeverity(sev)
		if !ok1 || !ok2 || !ok3 || err != nil || serr != nil || text == "" {
			t.Fatalf("%s/want.txt:%d: want \"fixture:line severity: text\", got %q", dir, i+1, line)
		}
		out[name] = append(out[name], want{n, s, text})
	}
	return out
}

func lintPath(t *testing.T, path string) []lint.Located {
	t.Helper()
	engine, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{path}, DefaultNamespace: "default"})
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
	for _, r := range builtin.Rules() {
		dir := filepath.Join("..", "..", "testdata", "rules", r.ID)
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
			expected := readWants(t, dir)
			for _, b := range bads {
				t.Run("bad/"+b.Name(), func(t *testing.T) {
					wants, ok := expected[b.Name()]
					if !ok {
						t.Fatalf("bad fixture %s has no expectations in want.txt", b.Name())
					}
					got := onlyRule(lintPath(t, filepath.Join(dir, "bad", b.Name())), r.ID)
					matchFindings(t, got, wants)
				})
			}
			for name := range expected {
				if _, err := os.Stat(filepath.Join(dir, "bad", name)); err != nil {
					t.Errorf("want.txt names %s, which does not exist", name)
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
