package rules

import (
	"slices"
	"testing"
)

// Each hands over exactly the objects List returns, through an overlay
// (the object under review replacing its stored version) and a read
// tracker as well as a plain index.
func TestEachMatchesList(t *testing.T) {
	cm := func(ns, name, v string) *Object {
		return NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"namespace": ns, "name": name}, "data": map[string]any{"v": v}})
	}
	base := NewMemIndex([]*Object{cm("a", "one", "old"), cm("a", "two", "old"), cm("b", "one", "old")})
	incoming := cm("a", "one", "new")
	for name, idx := range map[string]Index{
		"memory":  base,
		"overlay": Overlay(base, incoming),
		"tracked": newReadTracker(Overlay(base, incoming)),
	} {
		for _, ns := range []string{"", "a", "b", "c"} {
			var walked []*Object
			Each(idx, ConfigMapKind, ns, func(o *Object) { walked = append(walked, o) })
			listed := idx.List(ConfigMapKind, ns)
			if len(walked) != len(listed) {
				t.Errorf("%s, namespace %q: Each gave %d objects, List %d", name, ns, len(walked), len(listed))
				continue
			}
			for _, o := range listed {
				if !slices.Contains(walked, o) {
					t.Errorf("%s, namespace %q: Each left out %s", name, ns, o.Ref())
				}
			}
		}
	}
	var values []string
	Each(Overlay(base, incoming), ConfigMapKind, "a", func(o *Object) {
		values = append(values, o.Name()+"="+LookupString(o.Content, "data", "v"))
	})
	slices.Sort(values)
	if !slices.Equal(values, []string{"one=new", "two=old"}) {
		t.Errorf("through the overlay: %v, want the incoming version in place of the stored one", values)
	}
}
