package rules

import (
	"fmt"
	"testing"
)

func TestPrefixCovers(t *testing.T) {
	cases := []struct {
		prefix, want string
		ok           bool
	}{
		{"/", "/_next", true},
		{"/api", "/api/auth", true},
		{"/api/", "/api/auth", true},
		{"/api/auth", "/api/auth", true},
		{"/api/auth/", "/api/auth", true},
		{"/ap", "/api/auth", false},
		{"/apix", "/api", false},
		{"/api/public/otel", "/api/public", false},
	}
	for _, c := range cases {
		if got := prefixCovers(c.prefix, c.want); got != c.ok {
			t.Errorf("prefixCovers(%q, %q) = %v, want %v", c.prefix, c.want, got, c.ok)
		}
	}
}

func TestHostnameMatches(t *testing.T) {
	cases := []struct {
		pattern, host string
		ok            bool
	}{
		{"api.example.com", "api.example.com", true},
		{"API.example.com", "api.example.COM", true},
		{"api.example.com", "www.example.com", false},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
	}
	for _, c := range cases {
		if got := hostnameMatches(c.pattern, c.host); got != c.ok {
			t.Errorf("hostnameMatches(%q, %q) = %v, want %v", c.pattern, c.host, got, c.ok)
		}
	}
}

// clusterIndex hides MemIndex.HasNamespace: an Index like the webhook's
// cluster cache.
type clusterIndex struct{ Index }

func TestNamespaceKnown(t *testing.T) {
	svc := NewObject(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "a"}})
	mem := NewMemIndex([]*Object{svc})
	if !namespaceKnown(mem, "a") || namespaceKnown(mem, "b") {
		t.Error("MemIndex: a namespace is known exactly when it holds an object")
	}
	if !namespaceKnown(clusterIndex{mem}, "b") {
		t.Error("an index without HasNamespace is the whole cluster: every namespace is known")
	}
	route := NewObject(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "r", "namespace": "c"}})
	over := Overlay(mem, route)
	if !namespaceKnown(over, "a") || !namespaceKnown(over, "c") || namespaceKnown(over, "b") {
		t.Error("an overlay on a MemIndex must stay partial: known = the base's namespaces plus the object's")
	}
	if !namespaceKnown(Overlay(clusterIndex{mem}, route), "b") {
		t.Error("an overlay on the cluster must know every namespace")
	}
}

func TestSelectorAdmits(t *testing.T) {
	ns := NewObject(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "team-a", "labels": map[string]any{"access": "internal"}}})
	idx := NewMemIndex([]*Object{ns})
	cases := []struct {
		name string
		sel  map[string]any
		ns   string
		want listenerVerdict
	}{
		{"labels match", map[string]any{"matchLabels": map[string]any{"access": "internal"}}, "team-a", listenerAdmits},
		{"labels differ", map[string]any{"matchLabels": map[string]any{"access": "public"}}, "team-a", listenerRejects},
		{"name label on a known namespace", map[string]any{"matchLabels": map[string]any{namespaceNameLabel: "team-a"}}, "team-a", listenerAdmits},
		{"unknown namespace, label selector", map[string]any{"matchLabels": map[string]any{"access": "internal"}}, "team-b", listenerUnknown},
		{"unknown namespace, name selector", map[string]any{"matchExpressions": []any{map[string]any{"key": namespaceNameLabel, "operator": "In", "values": []any{"team-b"}}}}, "team-b", listenerAdmits},
		{"unknown namespace, other name", map[string]any{"matchLabels": map[string]any{namespaceNameLabel: "team-c"}}, "team-b", listenerRejects},
		{"invalid operator", map[string]any{"matchExpressions": []any{map[string]any{"key": "access", "operator": "Like"}}}, "team-a", listenerRejects},
	}
	for _, c := range cases {
		if got := selectorAdmits(idx, c.sel, c.ns); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRouteRulesDefaults(t *testing.T) {
	route := NewObject(map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "r", "namespace": "gw"},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "g"}, map[string]any{"name": "g", "namespace": "other", "kind": "Service", "group": ""}},
			"rules": []any{
				map[string]any{"backendRefs": []any{map[string]any{"name": "a", "port": int64(80)}}},
				map[string]any{"matches": []any{map[string]any{"headers": []any{}}, map[string]any{"path": map[string]any{"type": "Exact", "value": "/x"}}}},
			},
		},
	})
	parents := routeParents(route)
	if len(parents) != 2 || !parents[0].isGateway() || parents[0].Namespace != "gw" || parents[0].CrossNamespace {
		t.Errorf("first parent should default to a Gateway in the route's namespace: %+v", parents)
	}
	if parents[1].isGateway() || !parents[1].CrossNamespace || parents[1].Kind != "Service" {
		t.Errorf("second parent is a Service in another namespace: %+v", parents[1])
	}
	rules := routeRules(route)
	if len(rules) != 2 || len(rules[0].Prefixes) != 1 || rules[0].Prefixes[0] != "/" {
		t.Fatalf("a rule without matches matches the prefix /: %+v", rules)
	}
	b := rules[0].Backends[0]
	if !b.isService() || b.Namespace != "gw" || b.Port != 80 {
		t.Errorf("backend should default to a Service in the route's namespace: %+v", b)
	}
	if len(rules[1].Prefixes) != 1 || rules[1].Prefixes[0] != "/" {
		t.Errorf("a match without a path is the prefix /; an Exact match is no prefix: %v", rules[1].Prefixes)
	}
}

func TestHostnamesOverlap(t *testing.T) {
	cases := []struct {
		a, b []string
		ok   bool
	}{
		{nil, []string{"api.example.com"}, true},
		{[]string{"api.example.com"}, []string{"API.example.com"}, true},
		{[]string{"*.example.com"}, []string{"api.example.com"}, true},
		{[]string{"api.example.com"}, []string{"*.example.com"}, true},
		{[]string{"api.example.com"}, []string{"admin.example.com"}, false},
		{[]string{"*.example.com"}, []string{"example.com"}, false},
	}
	for _, c := range cases {
		if got := hostnamesOverlap(c.a, c.b); got != c.ok {
			t.Errorf("hostnamesOverlap(%v, %v) = %v, want %v", c.a, c.b, got, c.ok)
		}
	}
}

// TestRouteHostsCandidates checks that the per-run route index only
// narrows: every route that serves a host is among its candidates, in the
// index's order, so servingRuleFor picks the same rule as a full scan.
func TestRouteHostsCandidates(t *testing.T) {
	route := func(ns, name string, hostnames []any, parents ...string) *Object {
		var refs []any
		for _, p := range parents {
			refs = append(refs, map[string]any{"name": p})
		}
		spec := map[string]any{"parentRefs": refs}
		if hostnames != nil {
			spec["hostnames"] = hostnames
		}
		return NewObject(map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec,
		})
	}
	routes := []*Object{
		route("a", "exact", []any{"API.example.com", "api.example.com"}, "gw"),
		route("a", "wild", []any{"*.example.com"}, "gw"),
		route("a", "none", nil, "gw", "other"),
		route("b", "none", nil, "edge"),
		route("b", "mixed", []any{"langfuse.example.com", "*.internal"}, "edge"),
		route("c", "empty", []any{}, "gw"),
	}
	idx := NewMemIndex(routes)
	c := &Context{Index: idx}
	for _, q := range []struct{ host, ns string }{
		{"api.example.com", "a"}, {"x.example.com", "a"}, {"gw", "a"}, {"gw.a", "b"}, {"other.a.svc.cluster.local", "z"},
		{"edge.b", "a"}, {"langfuse.example.com", ""}, {"db.internal", "b"}, {"gw", "c"}, {"nothing.example.org", "a"},
	} {
		var want []string
		for _, r := range idx.List(HTTPRouteKind, "") {
			if routeServesHost(r, q.host, q.ns) {
				want = append(want, r.Namespace()+"/"+r.Name())
			}
		}
		var got []string
		for _, r := range routesByHost(c).candidates(q.host, q.ns) {
			if routeServesHost(r, q.host, q.ns) {
				got = append(got, r.Namespace()+"/"+r.Name())
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("host %q from %q: candidates serve %v, a full scan %v", q.host, q.ns, got, want)
		}
	}
}
