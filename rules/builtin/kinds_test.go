package builtin_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// servingNothing is an index that says it serves no kind, so that every
// read a rule makes is reported back as unjudged.
type servingNothing struct{ *rules.MemIndex }

func (servingNothing) Serves(schema.GroupKind) bool { return false }

// TestKindsCoverWhatRulesRead runs every rule fixture with an index that
// serves nothing and requires every kind a rule read to be in Kinds (or a
// standalone file kind): the audit lists exactly those.
func TestKindsCoverWhatRulesRead(t *testing.T) {
	kinds := builtin.Kinds()
	for _, f := range builtin.Files {
		kinds = append(kinds, f.Kind)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rules", "*", "*", "*"))
	if len(dirs) == 0 {
		t.Fatal("no rule fixtures found")
	}
	read := map[schema.GroupKind]bool{}
	for _, path := range dirs {
		in, err := lint.Load([]string{path}, os.Stdin, nil)
		if err != nil {
			t.Fatal(err)
		}
		var objs []*rules.Object
		for _, d := range in.Documents {
			objs = append(objs, d.Object)
		}
		run := engine.NewRun(servingNothing{rules.NewMemIndex(objs)})
		for _, o := range objs {
			_, unjudged := run.CheckJudged(o)
			for _, u := range unjudged {
				for _, gk := range u.Kinds {
					read[gk] = true
					if !slices.Contains(kinds, gk) {
						t.Errorf("%s: rule %s reads %s, which builtin.Kinds leaves out", path, u.Rule, gk)
					}
				}
			}
		}
	}
	// The fixtures exercise the look-ups: a test that saw none proves nothing.
	for _, gk := range []schema.GroupKind{rules.ServiceKind, rules.ConfigMapKind, rules.PersistentVolumeClaimKind} {
		if !read[gk] {
			t.Errorf("no fixture made a rule read %s", gk)
		}
	}
}
