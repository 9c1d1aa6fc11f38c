package rules

import "testing"

// clusterIndex hides MemIndex.HasNamespace: an Index like the webhook's
// cluster cache.
type clusterIndex struct{ Index }

func TestNamespaceKnown(t *testing.T) {
	svc := NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "a"}})
	mem := NewMemIndex([]*Object{svc})
	if !NamespaceKnown(mem, "a") || NamespaceKnown(mem, "b") {
		t.Error("MemIndex: a namespace is known exactly when it holds an object")
	}
	if !NamespaceKnown(clusterIndex{mem}, "b") {
		t.Error("an index without HasNamespace is the whole cluster: every namespace is known")
	}
	route := NewObject(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "r", "namespace": "c"}})
	over := Overlay(mem, route)
	if !NamespaceKnown(over, "a") || !NamespaceKnown(over, "c") || NamespaceKnown(over, "b") {
		t.Error("an overlay on a MemIndex must stay partial: known = the base's namespaces plus the object's")
	}
	if !NamespaceKnown(Overlay(clusterIndex{mem}, route), "b") {
		t.Error("an overlay on the cluster must know every namespace")
	}
}
