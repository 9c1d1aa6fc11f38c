package rules

import (
	"strings"
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

const arrayProviders = `{"providers": [{"name": "openai", "keys": [{"name": "k", "weight": 1, "models": ["*"]}]}]}`

func TestSuppressionAnnotation(t *testing.T) {
	e, _ := NewEngine(Builtin(), nil)
	cases := []struct {
		ignore string
		want   int
	}{
		{"", 1},
		{"bifrost-otel-trace-type", 1},
		{"bifrost-otel-trace-type, bifrost-providers-map", 0},
		{"*", 0},
		{"all", 0},
	}
	for _, c := range cases {
		ann := map[string]any{}
		if c.ignore != "" {
			ann[AnnotationIgnore] = c.ignore
		}
		obj := configMap("c", ann, map[string]any{"config.json": arrayProviders})
		got := e.NewRun(NewMemIndex([]*Object{obj})).Check(obj)
		n := 0
		for _, f := range got {
			if f.Rule == "bifrost-providers-map" {
				n++
			}
		}
		if n != c.want {
			t.Errorf("ignore %q: %d findings, want %d", c.ignore, n, c.want)
		}
	}
}

func TestPanickingRuleIsContained(t *testing.T) {
	boom := &Rule{ID: "boom", Severity: Error, Kinds: []schema.GroupKind{ConfigMapKind},
		Check: func(c *Context, obj *Object) { panic("value sk-live-SECRET leaked into a panic") }}
	e, err := NewEngine(append(Builtin(), boom), nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := configMap("c", nil, map[string]any{"config.json": arrayProviders})
	got := e.NewRun(NewMemIndex(nil)).Check(obj)
	var sawBoom, sawOthers bool
	for _, f := range got {
		if f.Rule == "boom" {
			sawBoom = f.Severity == Error && strings.Contains(f.Message, "internal error") && !strings.Contains(f.Message, "SECRET")
		}
		if f.Rule == "bifrost-providers-map" {
			sawOthers = true
		}
	}
	if !sawBoom || !sawOthers {
		t.Errorf("panic not turned into an error finding while other rules ran: %+v", got)
	}
}

func TestDuplicateRuleIDsRejected(t *testing.T) {
	if _, err := NewEngine([]*Rule{BifrostFSGroup, BifrostFSGroup}, nil); err == nil {
		t.Error("duplicate rule accepted")
	}
}

func TestEmitAppliesConfig(t *testing.T) {
	cfg, _ := ParseConfig("c", []byte("rules:\n  parse-error: {severity: warning}\n"))
	e, _ := NewEngine(Builtin(), cfg)
	f, ok := e.Emit(Finding{Rule: "parse-error", Severity: Error, Message: "x"}, nil)
	if !ok || f.Severity != Warning {
		t.Errorf("Emit = %+v, %v", f, ok)
	}
	obj := configMap("c", map[string]any{AnnotationIgnore: "parse-error"}, nil)
	if _, ok := e.Emit(Finding{Rule: "parse-error"}, obj); ok {
		t.Error("suppressed finding emitted")
	}
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

// countingExtension reports one finding per object and counts its runs.
type countingExtension struct{ starts int }

func (x *countingExtension) Rules() []*Rule {
	return []*Rule{{ID: "team-rule", Summary: "a team's own rule", Severity: Error}}
}

func (x *countingExtension) Start(idx Index) ExtensionRun {
	x.starts++
	return extRun{idx}
}

type extRun struct{ idx Index }

func (r extRun) Check(obj *Object) []Finding {
	return []Finding{{Rule: "team-rule", Message: "seen " + obj.Name() + " among " + strings.Repeat("*", len(r.idx.List(ConfigMapKind, "")))}}
}

func TestExtensionFindingsGoThroughConfig(t *testing.T) {
	x := &countingExtension{}
	cfg, _ := ParseConfig("c", []byte("rules:\n  team-rule: {severity: warning}\n"))
	e, err := NewEngine(Builtin(), cfg, x)
	if err != nil {
		t.Fatal(err)
	}
	a, b := configMap("a", nil, nil), configMap("b", map[string]any{AnnotationIgnore: "team-rule"}, nil)
	run := e.NewRun(NewMemIndex([]*Object{a, b}))
	got := append(run.Check(a), run.Check(b)...)
	if len(got) != 1 || got[0].Severity != Warning || got[0].Object.Name != "a" || got[0].Message != "seen a among **" {
		t.Errorf("findings = %+v", got)
	}
	if x.starts != 1 {
		t.Errorf("extension started %d times in one run", x.starts)
	}
	found := false
	for _, r := range e.Rules() {
		found = found || r.ID == "team-rule"
	}
	if !found {
		t.Error("extension rule not listed")
	}
}

// partialIndex is a MemIndex that does not serve one kind, as the webhook's
// cache does not when a CRD appears after it started.
type partialIndex struct {
	*MemIndex
	missing schema.GroupKind
}

func (p partialIndex) Serves(gk schema.GroupKind) bool { return gk != p.missing }

func TestUnservedKindIsNotAbsence(t *testing.T) {
	route := NewObject(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "r", "namespace": "apps"},
		"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{
			map[string]any{"name": "svc", "namespace": "backends", "port": int64(80)}}}}}})
	svc := NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "svc", "namespace": "backends"},
		"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}})
	e, _ := NewEngine(Builtin(), nil)
	severityOf := func(idx Index) Severity {
		for _, f := range e.NewRun(Overlay(idx, route)).Check(route) {
			if f.Rule == HTTPRouteReferenceGrant.ID {
				return f.Severity
			}
		}
		return 0
	}
	mem := NewMemIndex([]*Object{route, svc})
	if got := severityOf(mem); got != Error {
		t.Errorf("grants served and none there: severity %v, want error", got)
	}
	if got := severityOf(partialIndex{mem, ReferenceGrantKind}); got != Info {
		t.Errorf("grants not served: severity %v, want info", got)
	}
}
