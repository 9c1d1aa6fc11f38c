package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// realWorld is the corpus of upstream files nobody on this project wrote
// (testdata/realworld/SOURCES.md says where each comes from); want.txt pins
// every finding gjallar gives on it, each with a verdict checked by hand
// against the upstream code.
const realWorld = "../testdata/realworld"

// realWant is one pinned finding: where, which rule and severity, a part of
// the message, and whether the finding is right.
type realWant struct {
	file     string // relative to testdata/realworld
	line     int
	rule     string
	severity rules.Severity
	right    bool
	contains string
}

func (w realWant) String() string {
	verdict := "wrong"
	if w.right {
		verdict = "right"
	}
	return fmt.Sprintf("%s:%d %s %s %s: %s", w.file, w.line, w.rule, w.severity, verdict, w.contains)
}

// readRealWants reads want.txt: "unit/file:line rule severity right|wrong: text".
func readRealWants(t *testing.T) []realWant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(realWorld, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []realWant
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, text, ok := strings.Cut(line, ": ")
		fields := strings.Fields(head)
		if !ok || len(fields) != 4 {
			t.Fatalf("want.txt:%d: want \"unit/file:line rule severity right|wrong: text\", got %q", i+1, line)
		}
		file, num, _ := strings.Cut(fields[0], ":")
		n, err := strconv.Atoi(num)
		sev, serr := rules.ParseSeverity(fields[2])
		if err != nil || serr != nil || (fields[3] != "right" && fields[3] != "wrong") {
			t.Fatalf("want.txt:%d: cannot read %q", i+1, line)
		}
		out = append(out, realWant{file, n, fields[1], sev, fields[3] == "right", text})
	}
	return out
}

// realUnits lists testdata/realworld/<source>/<unit>: what is applied
// together, linted on its own.
func realUnits(t *testing.T) []string {
	t.Helper()
	var units []string
	sources, err := os.ReadDir(realWorld)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if !s.IsDir() {
			continue
		}
		entries, _ := os.ReadDir(filepath.Join(realWorld, s.Name()))
		for _, u := range entries {
			if u.IsDir() {
				units = append(units, s.Name()+"/"+u.Name())
			}
		}
	}
	sort.Strings(units)
	return units
}

// TestRealWorldCorpus lints each unit as `gjallar lint <unit>` does (the
// built-in rules and policies, objects without a namespace in "default")
// and requires exactly the pinned findings. It also holds the corpus to
// the precision goal: at most one wrong finding in twenty.
//
// GJALLAR_REALWORLD_DUMP=1 prints every finding in want.txt's form, for a
// human to judge; nothing is ever written from it automatically.
func TestRealWorldCorpus(t *testing.T) {
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	wants := map[string][]realWant{}
	right, wrong := 0, 0
	for _, w := range readRealWants(t) {
		unit := strings.Join(strings.SplitN(w.file, "/", 3)[:2], "/")
		wants[unit] = append(wants[unit], w)
		if w.right {
			right++
		} else {
			wrong++
		}
	}
	units := realUnits(t)
	if len(units) < 100 {
		t.Fatalf("only %d corpus units", len(units))
	}
	dump := os.Getenv("GJALLAR_REALWORLD_DUMP") != ""
	seen := map[string]bool{}
	for _, unit := range units {
		seen[unit] = true
		rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{filepath.Join(realWorld, unit)}, DefaultNamespace: "default"})
		if err != nil {
			t.Fatalf("%s: %v", unit, err)
		}
		var got []realWant
		for _, f := range rep.Findings {
			rel, _ := filepath.Rel(realWorld, filepath.FromSlash(f.File))
			got = append(got, realWant{file: filepath.ToSlash(rel), line: f.Line, rule: f.Rule, severity: f.Severity, contains: f.Message})
		}
		if dump {
			for _, g := range got {
				fmt.Printf("%s:%d %s %s ?: %s\n", g.file, g.line, g.rule, g.severity, g.contains)
			}
			continue
		}
		matchReal(t, unit, got, wants[unit])
	}
	for unit := range wants {
		if !seen[unit] {
			t.Errorf("want.txt pins findings in %s, which is not a corpus unit", unit)
		}
	}
	t.Logf("corpus: %d units, %d findings pinned, %d right, %d wrong", len(units), right+wrong, right, wrong)
	if wrong*20 > right+wrong {
		t.Errorf("%d of %d findings on real upstream files are wrong: more than one in twenty", wrong, right+wrong)
	}
}

func matchReal(t *testing.T, unit string, got, wants []realWant) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, g := range got {
			if !used[i] && g.file == w.file && g.line == w.line && g.rule == w.rule && g.severity == w.severity && strings.Contains(g.contains, w.contains) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("%s: missing %s", unit, w)
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("%s: unexpected %s:%d %s %s: %s", unit, g.file, g.line, g.rule, g.severity, g.contains)
		}
	}
}
