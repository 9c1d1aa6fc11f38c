package gateway

import (
	"fmt"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
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
		if got := PrefixCovers(c.prefix, c.want); got != c.ok {
			t.Errorf("PrefixCovers(%q, %q) = %v, want %v", c.prefix, c.want, got, c.ok)
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
		if got := HostnameMatches(c.pattern, c.host); got != c.ok {
			t.Errorf("HostnameMatches(%q, %q) = %v, want %v", c.pattern, c.host, got, c.ok)
		}
	}
}

func TestSelectorAdmits(t *testing.T) {
	ns := rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "team-a", "labels": map[string]any{"access": "internal"}}})
	idx := rules.NewMemIndex([]*rules.Object{ns})
	cases := []struct {
		name string
		sel  map[string]any
		ns   string
		want Verdict
	}{
		{"labels match", map[string]any{"matchLabels": map[string]any{"access": "internal"}}, "team-a", Admits},
		{"labels differ", map[string]any{"matchLabels": map[string]any{"access": "public"}}, "team-a", Rejects},
		{"name label on a known namespace", map[string]any{"matchLabels": map[string]any{namespaceNameLabel: "team-a"}}, "team-a", Admits},
		{"unknown namespace, label selector", map[string]any{"matchLabels": map[string]any{"access": "internal"}}, "team-b", Unknown},
		{"unknown namespace, name selector", map[string]any{"matchExpressions": []any{map[string]any{"key": namespaceNameLabel, "operator": "In", "values": []any{"team-b"}}}}, "team-b", Admits},
		{"unknown namespace, other name", map[string]any{"matchLabels": map[string]any{namespaceNameLabel: "team-c"}}, "team-b", Rejects},
		{"invalid operator", map[string]any{"matchExpressions": []any{map[string]any{"key": "access", "operator": "Like"}}}, "team-a", Rejects},
	}
	for _, c := range cases {
		if got := SelectorAdmits(idx, c.sel, c.ns); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRouteRulesDefaults(t *testing.T) {
	route := rules.NewObject(map[string]any{
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
	parents := Parents(route)
	if len(parents) != 2 || !parents[0].IsGateway() || parents[0].Namespace != "gw" || parents[0].CrossNamespace {
		t.Errorf("first parent should default to a Gateway in the route's namespace: %+v", parents)
	}
	if parents[1].IsGateway() || !parents[1].CrossNamespace || parents[1].Kind != "Service" {
		t.Errorf("second parent is a Service in another namespace: %+v", parents[1])
	}
	rrs := Rules(route)
	if len(rrs) != 2 || len(rrs[0].Prefixes) != 1 || rrs[0].Prefixes[0] != "/" {
		t.Fatalf("a rule without matches matches the prefix /: %+v", rrs)
	}
	b := rrs[0].Backends[0]
	if !b.IsService() || b.Namespace != "gw" || b.Port != 80 {
		t.Errorf("backend should default to a Service in the route's namespace: %+v", b)
	}
	if len(rrs[1].Prefixes) != 1 || rrs[1].Prefixes[0] != "/" {
		t.Errorf("a match without a path is the prefix /; an Exact match is no prefix: %v", rrs[1].Prefixes)
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
		if got := HostnamesOverlap(c.a, c.b); got != c.ok {
			t.Errorf("HostnamesOverlap(%v, %v) = %v, want %v", c.a, c.b, got, c.ok)
		}
	}
}

// TestRouteHostsCandidates checks that the per-run route index only
// narrows: every route that serves a host is among its candidates, in the
// index's order, so ServingRuleFor picks the same rule as a full scan.
func TestRouteHostsCandidates(t *testing.T) {
	route := func(ns, name string, hostnames []any, parents ...string) *rules.Object {
		var refs []any
		for _, p := range parents {
			refs = append(refs, map[string]any{"name": p})
		}
		spec := map[string]any{"parentRefs": refs}
		if hostnames != nil {
			spec["hostnames"] = hostnames
		}
		return rules.NewObject(map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec,
		})
	}
	routes := []*rules.Object{
		route("a", "exact", []any{"API.example.com", "api.example.com"}, "gw"),
		route("a", "wild", []any{"*.example.com"}, "gw"),
		route("a", "none", nil, "gw", "other"),
		route("b", "none", nil, "edge"),
		route("b", "mixed", []any{"langfuse.example.com", "*.internal"}, "edge"),
		route("c", "empty", []any{}, "gw"),
	}
	idx := rules.NewMemIndex(routes)
	c := &rules.Context{Index: idx}
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
		for _, r := range routesByHost(c).candidates(c, q.host, q.ns) {
			if routeServesHost(r, q.host, q.ns) {
				got = append(got, r.Namespace()+"/"+r.Name())
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("host %q from %q: candidates serve %v, a full scan %v", q.host, q.ns, got, want)
		}
	}
}

func TestServingRuleApply(t *testing.T) {
	cases := []struct {
		prefix  string
		rewrite *Rewrite
		in, out string
	}{
		{"/api/public/otel", nil, "/api/public/otel", "/api/public/otel"},
		{"/api/public/otel", &Rewrite{Type: "ReplacePrefixMatch", Value: "/api/public/otel/v1/traces"}, "/api/public/otel", "/api/public/otel/v1/traces"},
		{"/api/public/otel/", &Rewrite{Type: "ReplacePrefixMatch", Value: "/api/public/otel/v1/traces"}, "/api/public/otel/v1/traces", "/api/public/otel/v1/traces/v1/traces"},
		{"/langfuse/", &Rewrite{Type: "ReplacePrefixMatch", Value: "/"}, "/langfuse/api/public", "/api/public"},
		{"/langfuse", &Rewrite{Type: "ReplacePrefixMatch", Value: "/"}, "/langfuse", "/"},
		{"/otel", &Rewrite{Type: "ReplaceFullPath", Value: "/api/public/otel/v1/traces"}, "/otel/anything", "/api/public/otel/v1/traces"},
	}
	for _, c := range cases {
		s := &Serving{Prefix: c.prefix, Rewrite: c.rewrite}
		if got := s.Apply(c.in); got != c.out {
			t.Errorf("prefix %s, %+v: %s -> %s, want %s", c.prefix, c.rewrite, c.in, got, c.out)
		}
	}
}
