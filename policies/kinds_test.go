package policies

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
)

// TestBuiltinKindsLoseNoFinding evaluates every object in testdata with
// and without the kind filter of the built-in packages: the findings must
// be the same, so builtinKinds covers every kind the policies report on.
func TestBuiltinKindsLoseNoFinding(t *testing.T) {
	set, err := Load(Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	if set.kinds == nil {
		t.Fatal("the built-in packages alone have no kind filter")
	}
	unfiltered := *set
	unfiltered.kinds = nil
	in, err := lint.Load([]string{filepath.Join("..", "testdata")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*rules.Object
	for _, d := range in.Documents {
		objs = append(objs, d.Object)
	}
	idx := rules.NewMemIndex(objs)
	filtered, all := set.Start(idx), unfiltered.Start(idx)
	seen := map[string]int{}
	skipped := 0
	for _, o := range objs {
		got, want := fmt.Sprint(filtered.Check(o)), all.Check(o)
		if got != fmt.Sprint(want) {
			t.Errorf("%s: filtered %s, unfiltered %v", o.Ref(), got, want)
		}
		for _, f := range want {
			seen[f.Rule]++
		}
		if !set.kinds[o.GroupKind()] {
			skipped++
		}
	}
	if seen["endpoint-hostname"] == 0 || seen["plaintext-secret"] == 0 || skipped == 0 {
		t.Errorf("testdata no longer exercises the filter: findings %v, %d objects skipped", seen, skipped)
	}
}

func TestUserPackagesTurnTheKindFilterOff(t *testing.T) {
	set, err := Load(Options{Builtin: true, Paths: []string{filepath.Join("..", "testdata", "policies", "conftest")}})
	if err != nil {
		t.Fatal(err)
	}
	if set.kinds != nil {
		t.Errorf("a user's package may look at any kind, but the set filters to %v", set.kinds)
	}
}

// TestKindsSayWhatTheAuditMustList: the built-in packages alone name their
// kinds; a user's package, which may look at any kind, makes Kinds nil.
func TestKindsSayWhatTheAuditMustList(t *testing.T) {
	set, err := Load(Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(set.Kinds())
	for _, want := range []string{"ConfigMap", "Gateway.gateway.networking.k8s.io", "HTTPRoute.gateway.networking.k8s.io", "GRPCRoute.gateway.networking.k8s.io"} {
		if !strings.Contains(got, want) {
			t.Errorf("Kinds() = %s, missing %s", got, want)
		}
	}
	users, err := Load(Options{Builtin: true, Paths: []string{filepath.Join("..", "testdata", "policies", "conftest")}})
	if err != nil {
		t.Fatal(err)
	}
	if k := users.Kinds(); k != nil {
		t.Errorf("with a user's package Kinds() = %v, want nil (any kind)", k)
	}
}
