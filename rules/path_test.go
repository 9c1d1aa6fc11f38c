package rules

import "testing"

func TestPathRendering(t *testing.T) {
	p := P("spec", "template", "metadata", "annotations", "gjallar.dev/config-hash")
	if got := p.String(); got != `spec.template.metadata.annotations["gjallar.dev/config-hash"]` {
		t.Errorf("String = %s", got)
	}
	if got := p.Pointer(); got != "/spec/template/metadata/annotations/gjallar.dev~1config-hash" {
		t.Errorf("Pointer = %s", got)
	}
	q := P("data", "config.json").Child("providers", 0, "name")
	if got := q.String(); got != `data["config.json"].providers[0].name` {
		t.Errorf("String = %s", got)
	}
	if got := P("a~b").Pointer(); got != "/a~0b" {
		t.Errorf("Pointer = %s", got)
	}
	if !q.HasPrefix(P("data")) || q.HasPrefix(P("spec")) {
		t.Error("HasPrefix wrong")
	}
}

func TestLookup(t *testing.T) {
	v := map[string]any{"a": []any{map[string]any{"b": "c"}}}
	if got := LookupString(v, "a", "0", "b"); got != "c" {
		t.Errorf("got %q", got)
	}
	if _, ok := Lookup(v, P("a", 5)); ok {
		t.Error("index out of range found")
	}
	if _, ok := Lookup(v, P("a", "x")); ok {
		t.Error("non-numeric index found")
	}
}
