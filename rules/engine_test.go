package rules

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func configMap(name string, annotations map[string]any, data map[string]any) *Object {
	meta := map[string]any{"name": name, "namespace": "ai"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
}

func TestOverlayIndex(t *testing.T) {
	old := configMap("a", nil, map[string]any{"k": "old"})
	other := configMap("b", nil, nil)
	base := NewMemIndex([]*Object{old, other})
	incoming := configMap("a", nil, map[string]any{"k": "new"})
	idx := Overlay(base, incoming)
	if got := idx.Get(ConfigMapKind, "ai", "a"); got != incoming {
		t.Error("Get does not return the incoming object")
	}
	list := idx.List(ConfigMapKind, "ai")
	if len(list) != 2 {
		t.Fatalf("List = %d objects, want 2", len(list))
	}
	for _, o := range list {
		if o == old {
			t.Error("List still holds the old version")
		}
	}
	if got := idx.List(ConfigMapKind, "other"); len(got) != 0 {
		t.Errorf("other namespace lists %d", len(got))
	}
}

func TestMemIndexLaterObjectWins(t *testing.T) {
	a1 := configMap("a", nil, map[string]any{"v": "1"})
	a2 := configMap("a", nil, map[string]any{"v": "2"})
	idx := NewMemIndex([]*Object{a1, a2})
	if idx.Get(ConfigMapKind, "ai", "a") != a2 || len(idx.List(ConfigMapKind, "")) != 1 || len(idx.List(ConfigMapKind, "ai")) != 1 {
		t.Error("a later object with the same name did not replace the earlier one")
	}
	if !idx.HasNamespace("ai") || idx.HasNamespace("nope") {
		t.Error("HasNamespace wrong")
	}
}

func TestSharedComputesOncePerRun(t *testing.T) {
	calls := 0
	counting := &Rule{ID: "count", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) {
			c.Shared("k", func() any { calls++; return 1 })
		}}
	e, _ := NewEngine([]*Rule{counting}, nil)
	run := e.NewRun(NewMemIndex(nil))
	for i := 0; i < 3; i++ {
		run.Check(configMap("c", nil, nil))
	}
	e.NewRun(NewMemIndex(nil)).Check(configMap("c", nil, nil))
	if calls != 2 {
		t.Errorf("computed %d times, want once per run (2)", calls)
	}
}

// versionedIndex is a MemIndex that reports a version, as the webhook's
// cluster cache does.
type versionedIndex struct {
	*MemIndex
	version uint64
}

func (v *versionedIndex) Version([]schema.GroupKind) (any, uint64, bool) {
	return v.MemIndex, v.version, true
}

func TestSharedOverKeepsFactsWhileTheIndexIsUnchanged(t *testing.T) {
	calls := 0
	counting := &Rule{ID: "count", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind, ServiceKind},
		Check: func(c *Context, obj *Object) {
			c.SharedOver("k", []schema.GroupKind{ServiceKind}, func() any { calls++; return len(c.Index.List(ServiceKind, "")) })
		}}
	e, _ := NewEngine([]*Rule{counting}, nil)
	idx := &versionedIndex{MemIndex: NewMemIndex(nil), version: 1}
	check := func(base Index, obj *Object) {
		e.NewRun(Overlay(base, obj)).Check(obj)
	}
	cm := configMap("c", nil, nil)
	svc := NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "ai"}})
	for _, step := range []struct {
		name  string
		run   func()
		calls int
	}{
		{"first request", func() { check(idx, cm) }, 1},
		{"same version", func() { check(idx, cm); check(idx, cm) }, 1},
		{"an object of the fact's kind under review", func() { check(idx, svc) }, 2},
		{"same version again", func() { check(idx, cm) }, 2},
		{"a new version", func() { idx.version++; check(idx, cm) }, 3},
		{"an index that cannot tell", func() { check(idx.MemIndex, cm); check(idx.MemIndex, cm) }, 5},
	} {
		step.run()
		if calls != step.calls {
			t.Fatalf("%s: computed %d times in all, want %d", step.name, calls, step.calls)
		}
	}
}

// Runs that need a fact at the same version while one computes it wait for
// that one instead of reading the index again each: under a burst of
// admission requests after the cluster changed, one computation.
func TestSharedOverComputesOnceAcrossConcurrentRuns(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	var arrived, done sync.WaitGroup
	waiting := &Rule{ID: "wait", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) {
			arrived.Done()
			c.SharedOver("k", []schema.GroupKind{ServiceKind}, func() any { calls.Add(1); <-release; return 1 })
		}}
	e, _ := NewEngine([]*Rule{waiting}, nil)
	idx := &versionedIndex{MemIndex: NewMemIndex(nil), version: 1}
	for range 8 {
		arrived.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			e.NewRun(idx).Check(configMap("c", nil, nil))
		}()
	}
	// Every run is in the rule and none can finish before release: without
	// sharing, each would start computing; let them get there.
	arrived.Wait()
	for i := 0; i < 1000 && calls.Load() < 8; i++ {
		runtime.Gosched()
	}
	close(release)
	done.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent runs computed the fact %d times, want 1", n)
	}
}

// A fact whose computation panics is not kept: the next run computes it.
func TestSharedOverForgetsAPanic(t *testing.T) {
	calls := 0
	panicking := &Rule{ID: "panic", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) {
			c.SharedOver("k", []schema.GroupKind{ServiceKind}, func() any {
				calls++
				if calls == 1 {
					panic("first time")
				}
				return 1
			})
		}}
	e, _ := NewEngine([]*Rule{panicking}, nil)
	idx := &versionedIndex{MemIndex: NewMemIndex(nil), version: 1}
	func() {
		defer func() { recover() }()
		e.NewRun(idx).Check(configMap("c", nil, nil))
	}()
	e.NewRun(idx).Check(configMap("c", nil, nil))
	e.NewRun(idx).Check(configMap("c", nil, nil))
	if calls != 2 {
		t.Errorf("computed %d times, want 2 (the panic, then once)", calls)
	}
}

// SharedOverBase reads the index without the object under review, so the
// fact is kept while objects of its kinds are under review, and the rule
// sees which object that is.
func TestSharedOverBaseIgnoresTheObjectUnderReview(t *testing.T) {
	calls := 0
	var seen []string
	reading := &Rule{ID: "base", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) {
			names := c.SharedOverBase("k", []schema.GroupKind{ConfigMapKind}, func(idx Index) any {
				calls++
				var names []string
				for _, o := range idx.List(ConfigMapKind, "") {
					names = append(names, o.Name()+"="+LookupString(o.Content, "data", "v"))
				}
				return names
			}).([]string)
			seen = names
			if u := c.UnderReview(); u != obj {
				t.Errorf("UnderReview = %v, want the checked object", u)
			}
		}}
	e, _ := NewEngine([]*Rule{reading}, nil)
	idx := &versionedIndex{MemIndex: NewMemIndex([]*Object{configMap("a", nil, map[string]any{"v": "stored"})}), version: 1}
	for i := range 3 {
		obj := configMap("a", nil, map[string]any{"v": fmt.Sprint("review", i)})
		e.NewRun(Overlay(idx, obj)).Check(obj)
	}
	if calls != 1 || fmt.Sprint(seen) != "[a=stored]" {
		t.Errorf("computed %d times (want 1), saw %v (want the stored version)", calls, seen)
	}
	// Lint: no overlay, nothing under review, the index as it is.
	linting := &Rule{ID: "lint", Severity: Info, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) {
			if c.UnderReview() != nil {
				t.Error("an object is under review in lint")
			}
			seen = c.SharedOverBase("k", nil, func(idx Index) any { return []string{fmt.Sprint(len(idx.List(ConfigMapKind, "")))} }).([]string)
		}}
	e, _ = NewEngine([]*Rule{linting}, nil)
	lintIdx := NewMemIndex([]*Object{configMap("a", nil, map[string]any{"v": "linted"})})
	e.NewRun(lintIdx).Check(lintIdx.Get(ConfigMapKind, "ai", "a"))
	if fmt.Sprint(seen) != "[1]" {
		t.Errorf("lint's SharedOverBase saw %v", seen)
	}
}
