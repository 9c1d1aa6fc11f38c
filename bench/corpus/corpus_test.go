package corpus

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// TestCorpusFindings keeps the generator honest: every layout lints to
// exactly one finding per stack that is wrong on purpose, of the rule the
// defect is named after, and to nothing for the compliant stacks.
func TestCorpusFindings(t *testing.T) {
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	for _, layout := range []Layout{LayoutSplit, LayoutObject, LayoutBundle} {
		t.Run(string(layout), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "corpus")
			sum, err := Write(Options{Stacks: 25, Out: dir, Layout: layout, WrongEvery: 4})
			if err != nil {
				t.Fatal(err)
			}
			if want := 25*ObjectsPerStack + PlatformObjects; sum.Objects != want {
				t.Errorf("wrote %d objects, want %d", sum.Objects, want)
			}
			rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{dir}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Objects != sum.Objects || rep.Files != sum.Files {
				t.Errorf("lint read %d objects in %d files, the generator wrote %d in %d", rep.Objects, rep.Files, sum.Objects, sum.Files)
			}
			got := map[Defect]int{}
			objects := map[int]string{DocConfigMap: "ConfigMap bifrost-gateway-config", DocBifrost: "Deployment bifrost", DocGateway: "Gateway llm-gateway", DocApp: "Deployment chat-app"}
			for _, f := range rep.Findings {
				got[Defect(f.Rule)]++
				if want := objects[Defect(f.Rule).Doc()]; f.Object.Kind+" "+f.Object.Name != want {
					t.Errorf("%s is about %s, Defect.Doc says %q", f.Rule, f.Object, want)
				}
			}
			gotS := (&Summary{Defects: got}).sortedDefects()
			wantS := sum.sortedDefects()
			if strings.Join(gotS, " ") != strings.Join(wantS, " ") {
				var lines []string
				for _, f := range rep.Findings {
					lines = append(lines, fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Rule, f.Message))
				}
				sort.Strings(lines)
				t.Errorf("findings by rule %v, want %v:\n%s", gotS, wantS, strings.Join(lines, "\n"))
			}
			if len(sum.Defects) != len(Defects) {
				t.Errorf("only %d of %d defects were written; write more stacks", len(sum.Defects), len(Defects))
			}
		})
	}
}
