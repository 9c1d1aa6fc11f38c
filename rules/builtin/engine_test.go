package builtin_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	bifrostchecks "github.com/gjallar-dev/gjallar/rules/bifrost/checks"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/rules/gateway"
	gatewaychecks "github.com/gjallar-dev/gjallar/rules/gateway/checks"
)

func configMap(name string, annotations map[string]any, data map[string]any) *rules.Object {
	meta := map[string]any{"name": name, "namespace": "ai"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
}

const arrayProviders = `{"providers": [{"name": "openai", "keys": [{"name": "k", "weight": 1, "models": ["*"]}]}]}`

func TestSuppressionAnnotation(t *testing.T) {
	e, _ := rules.NewEngine(builtin.Rules(), nil)
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
			ann[rules.AnnotationIgnore] = c.ignore
		}
		obj := configMap("c", ann, map[string]any{"config.json": arrayProviders})
		got := e.NewRun(rules.NewMemIndex([]*rules.Object{obj})).Check(obj)
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
	boom := &rules.Rule{ID: "boom", Severity: rules.Error, Kinds: []schema.GroupKind{rules.ConfigMapKind},
		Check: func(c *rules.Context, obj *rules.Object) { panic("value sk-live-SECRET leaked into a panic") }}
	e, err := rules.NewEngine(append(builtin.Rules(), boom), nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := configMap("c", nil, map[string]any{"config.json": arrayProviders})
	got := e.NewRun(rules.NewMemIndex(nil)).Check(obj)
	var sawBoom, sawOthers bool
	for _, f := range got {
		if f.Rule == "boom" {
			sawBoom = f.Severity == rules.Error && strings.Contains(f.Message, "internal error") && !strings.Contains(f.Message, "SECRET")
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
	if _, err := rules.NewEngine([]*rules.Rule{bifrostchecks.BifrostFSGroup, bifrostchecks.BifrostFSGroup}, nil); err == nil {
		t.Error("duplicate rule accepted")
	}
}

func TestEmitAppliesConfig(t *testing.T) {
	cfg, _ := rules.ParseConfig("c", []byte("rules:\n  parse-error: {severity: warning}\n"))
	e, _ := rules.NewEngine(builtin.Rules(), cfg)
	f, ok := e.Emit(rules.Finding{Rule: "parse-error", Severity: rules.Error, Message: "x"}, nil)
	if !ok || f.Severity != rules.Warning {
		t.Errorf("Emit = %+v, %v", f, ok)
	}
	obj := configMap("c", map[string]any{rules.AnnotationIgnore: "parse-error"}, nil)
	if _, ok := e.Emit(rules.Finding{Rule: "parse-error"}, obj); ok {
		t.Error("suppressed finding emitted")
	}
}

// countingExtension reports one finding per object and counts its runs.
type countingExtension struct{ starts int }

func (x *countingExtension) Rules() []*rules.Rule {
	return []*rules.Rule{{ID: "team-rule", Summary: "a team's own rule", Severity: rules.Error}}
}

func (x *countingExtension) Start(idx rules.Index) rules.ExtensionRun {
	x.starts++
	return extRun{idx}
}

type extRun struct{ idx rules.Index }

func (r extRun) Check(obj *rules.Object) []rules.Finding {
	return []rules.Finding{{Rule: "team-rule", Message: "seen " + obj.Name() + " among " + strings.Repeat("*", len(r.idx.List(rules.ConfigMapKind, "")))}}
}

func TestExtensionFindingsGoThroughConfig(t *testing.T) {
	x := &countingExtension{}
	cfg, _ := rules.ParseConfig("c", []byte("rules:\n  team-rule: {severity: warning}\n"))
	e, err := rules.NewEngine(builtin.Rules(), cfg, x)
	if err != nil {
		t.Fatal(err)
	}
	a, b := configMap("a", nil, nil), configMap("b", map[string]any{rules.AnnotationIgnore: "team-rule"}, nil)
	run := e.NewRun(rules.NewMemIndex([]*rules.Object{a, b}))
	got := append(run.Check(a), run.Check(b)...)
	if len(got) != 1 || got[0].Severity != rules.Warning || got[0].Object.Name != "a" || got[0].Message != "seen a among **" {
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

// partialIndex is a rules.MemIndex that does not serve one kind, as the webhook's
// cache does not when a CRD appears after it started.
type partialIndex struct {
	*rules.MemIndex
	missing schema.GroupKind
}

func (p partialIndex) Serves(gk schema.GroupKind) bool { return gk != p.missing }

func TestUnservedKindIsNotAbsence(t *testing.T) {
	route := rules.NewObject(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "r", "namespace": "apps"},
		"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{
			map[string]any{"name": "svc", "namespace": "backends", "port": int64(80)}}}}}})
	svc := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "svc", "namespace": "backends"},
		"spec": map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}})
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	severityOf := func(idx rules.Index) rules.Severity {
		for _, f := range e.NewRun(rules.Overlay(idx, route)).Check(route) {
			if f.Rule == gatewaychecks.HTTPRouteReferenceGrant.ID {
				return f.Severity
			}
		}
		return 0
	}
	mem := rules.NewMemIndex([]*rules.Object{route, svc})
	if got := severityOf(mem); got != rules.Error {
		t.Errorf("grants served and none there: severity %v, want error", got)
	}
	if got := severityOf(partialIndex{mem, gateway.ReferenceGrantKind}); got != rules.Info {
		t.Errorf("grants not served: severity %v, want info", got)
	}
}
