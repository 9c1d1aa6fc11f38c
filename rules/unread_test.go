package rules

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// hidingIndex serves every kind but the hidden ones, as the audit's index
// does when RBAC forbids listing a kind.
type hidingIndex struct {
	*MemIndex
	hidden map[schema.GroupKind]bool
}

func (h hidingIndex) Serves(gk schema.GroupKind) bool { return !h.hidden[gk] }

func TestCheckJudgedNamesRulesThatReadUnservedKinds(t *testing.T) {
	rule := func(id string, check func(c *Context)) *Rule {
		return &Rule{ID: id, Severity: Warning, Kinds: []schema.GroupKind{ConfigMapKind},
			Check: func(c *Context, obj *Object) {
				check(c)
				c.Reportf(nil, "%s ran", id)
			}}
	}
	listServices := func(c *Context) any { return len(c.Index.List(ServiceKind, "")) }
	e, err := NewEngine([]*Rule{
		rule("direct", func(c *Context) { c.Index.Get(ServiceKind, "ai", "x") }),
		rule("computes-shared", func(c *Context) { c.Shared("services", func() any { return listServices(c) }) }),
		rule("takes-shared", func(c *Context) { c.Shared("services", func() any { return listServices(c) }) }),
		rule("shared-over", func(c *Context) { c.SharedOver("over", []schema.GroupKind{ServiceKind}, func() any { return 0 }) }),
		rule("served-only", func(c *Context) { c.Index.List(ConfigMapKind, "ai") }),
		rule("asks-first", func(c *Context) {
			if KindKnown(c.Index, ServiceKind) {
				c.Index.List(ServiceKind, "")
			}
		}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cm1, cm2 := configMap("a", nil, nil), configMap("b", nil, nil)
	idx := hidingIndex{NewMemIndex([]*Object{cm1, cm2}), map[schema.GroupKind]bool{ServiceKind: true}}
	run := e.NewRun(idx)
	want := []Unjudged{
		{Rule: "direct", Kinds: []schema.GroupKind{ServiceKind}},
		{Rule: "computes-shared", Kinds: []schema.GroupKind{ServiceKind}},
		{Rule: "takes-shared", Kinds: []schema.GroupKind{ServiceKind}},
		{Rule: "shared-over", Kinds: []schema.GroupKind{ServiceKind}},
	}
	// The second object gets the shared fact without computing it, and is
	// still charged with what computing it read.
	for _, obj := range []*Object{cm1, cm2} {
		found, unjudged := run.CheckJudged(obj)
		if len(found) != 6 {
			t.Errorf("%s: %d findings, want every rule's 6", obj.Name(), len(found))
		}
		if !reflect.DeepEqual(unjudged, want) {
			t.Errorf("%s: unjudged = %v, want %v", obj.Name(), unjudged, want)
		}
	}

	// Check, and an index serving everything, report nothing unjudged.
	if found := e.NewRun(idx).Check(cm1); len(found) != 6 {
		t.Errorf("Check: %d findings, want 6", len(found))
	}
	if _, unjudged := e.NewRun(NewMemIndex([]*Object{cm1})).CheckJudged(cm1); len(unjudged) != 0 {
		t.Errorf("index serving every kind: unjudged = %v", unjudged)
	}
}
