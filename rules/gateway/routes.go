// Package gateway is what gjallar's rules know of the Gateway API and
// kgateway: routes and their references, listeners and who may attach to
// them, ReferenceGrants, which route and backend serve a URL, and the
// GatewayParameters kgateway builds a Gateway's Service from.
package gateway

import (
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// Group is the Gateway API's group; an omitted parentRef group means it.
const Group = "gateway.networking.k8s.io"

var (
	HTTPRouteKind      = schema.GroupKind{Group: Group, Kind: "HTTPRoute"}
	ReferenceGrantKind = schema.GroupKind{Group: Group, Kind: "ReferenceGrant"}
	GatewayKind        = schema.GroupKind{Group: Group, Kind: "Gateway"}
	GatewayClassKind   = schema.GroupKind{Group: Group, Kind: "GatewayClass"}
)

// Ref is a backendRef or parentRef of an HTTPRoute with the API's
// defaults filled in: a backend is a core Service, a parent a Gateway, and
// either lives in the route's namespace unless it names another.
type Ref struct {
	Group, Kind, Namespace, Name string
	// Port is 0 when the reference has none; SectionName only on parents.
	Port        int64
	SectionName string
	// CrossNamespace is set when the reference names a namespace other than
	// the route's.
	CrossNamespace bool
	Path           rules.Path
}

func (r Ref) IsService() bool { return r.Group == "" && r.Kind == "Service" }

func (r Ref) IsGateway() bool { return r.Group == Group && r.Kind == "Gateway" }

// DelegationGroup is kgateway's group for label-based route delegation.
const DelegationGroup = "delegation.kgateway.dev"

// IsDelegation reports whether a backendRef delegates to child HTTPRoutes
// (kgateway route delegation): group gateway.networking.k8s.io and kind
// HTTPRoute written out (name "*" or empty selects every route of the
// namespace), or group delegation.kgateway.dev and kind label (kgateway
// v2.1 and later; namespace "all" searches every namespace). kgateway
// resolves these without ReferenceGrants: the children opt in through
// their parentRefs. (kgateway v2.3.0 pkg/kgateway/translator/backendref/
// types.go IsHTTPRoute, IsHTTPRouteDelegationLabelSelector;
// pkg/krtcollections/policy.go getBackends hands delegates off before the
// ReferenceGrant check; the same in v2.0.0.)
func (r Ref) IsDelegation() bool {
	return (r.Group == Group && r.Kind == "HTTPRoute") || (r.Group == DelegationGroup && r.Kind == "label")
}

// Key identifies the referenced object, whatever section or port.
func (r Ref) Key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// describe names the target for a message: "Service ai-external/bifrost".
func (r Ref) Describe() string {
	kind := r.Kind
	if r.Group != "" && !r.IsService() && !r.IsGateway() {
		kind = r.Kind + "." + r.Group
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

func ReadRef(route *rules.Object, m map[string]any, at rules.Path, defaultGroup, defaultKind string) Ref {
	r := Ref{Group: defaultGroup, Kind: defaultKind, Namespace: route.Namespace(), Path: at}
	if g, ok := m["group"].(string); ok {
		r.Group = g
	}
	if k, ok := m["kind"].(string); ok && k != "" {
		r.Kind = k
	}
	if ns, ok := m["namespace"].(string); ok && ns != "" && ns != route.Namespace() {
		r.Namespace, r.CrossNamespace = ns, true
	}
	r.Name = rules.LookupString(m, "name")
	r.Port, _ = rules.AsInt(m["port"])
	r.SectionName = rules.LookupString(m, "sectionName")
	return r
}

// Parents lists an HTTPRoute's parentRefs.
func Parents(route *rules.Object) []Ref {
	var out []Ref
	for i, p := range rules.LookupList(route.Content, "spec", "parentRefs") {
		if m, ok := p.(map[string]any); ok {
			out = append(out, ReadRef(route, m, rules.P("spec", "parentRefs", i), Group, "Gateway"))
		}
	}
	return out
}

// Rule is one entry of an HTTPRoute's spec.rules, reduced to what the
// rules here look at.
type Rule struct {
	Path rules.Path
	// Prefixes are the rule's path matches that match by prefix; a rule
	// without matches (or a match without a path) matches the prefix "/".
	Prefixes []string
	// Rewrite is the rule's URLRewrite path filter, if any.
	Rewrite *Rewrite
	// Backends are the rule's backendRefs; Mirrors the backends of its
	// RequestMirror filters, which are references all the same.
	Backends []Ref
	Mirrors  []Ref
}

// Rewrite is a URLRewrite filter's path modifier.
type Rewrite struct {
	Type  string // ReplacePrefixMatch or ReplaceFullPath
	Value string
	Path  rules.Path
}

// Rules decodes an HTTPRoute's rules.
func Rules(route *rules.Object) []Rule {
	var out []Rule
	for i, r := range rules.LookupList(route.Content, "spec", "rules") {
		m, _ := r.(map[string]any)
		at := rules.P("spec", "rules", i)
		rr := Rule{Path: at}
		matches := rules.LookupList(m, "matches")
		if len(matches) == 0 {
			rr.Prefixes = []string{"/"}
		}
		for _, match := range matches {
			path := rules.LookupMap(match, "path")
			typ := rules.LookupString(path, "type")
			value, hasValue := path["value"].(string)
			switch {
			case path == nil:
				rr.Prefixes = append(rr.Prefixes, "/")
			case typ == "" || typ == "PathPrefix":
				if !hasValue {
					value = "/"
				}
				rr.Prefixes = append(rr.Prefixes, value)
			}
		}
		rr.Rewrite, rr.Mirrors = readFilters(route, rules.LookupList(m, "filters"), at.Child("filters"))
		for j, b := range rules.LookupList(m, "backendRefs") {
			bm, ok := b.(map[string]any)
			if !ok {
				continue
			}
			bat := at.Child("backendRefs", j)
			rr.Backends = append(rr.Backends, ReadRef(route, bm, bat, "", "Service"))
			_, mirrors := readFilters(route, rules.LookupList(bm, "filters"), bat.Child("filters"))
			rr.Mirrors = append(rr.Mirrors, mirrors...)
		}
		out = append(out, rr)
	}
	return out
}

func readFilters(route *rules.Object, filters []any, at rules.Path) (*Rewrite, []Ref) {
	var rewrite *Rewrite
	var mirrors []Ref
	for k, f := range filters {
		fm, _ := f.(map[string]any)
		switch rules.LookupString(fm, "type") {
		case "URLRewrite":
			p := rules.LookupMap(fm, "urlRewrite", "path")
			typ := rules.LookupString(p, "type")
			fat := at.Child(k, "urlRewrite", "path")
			switch typ {
			case "ReplacePrefixMatch":
				rewrite = &Rewrite{Type: typ, Value: rules.LookupString(p, "replacePrefixMatch"), Path: fat.Child("replacePrefixMatch")}
			case "ReplaceFullPath":
				rewrite = &Rewrite{Type: typ, Value: rules.LookupString(p, "replaceFullPath"), Path: fat.Child("replaceFullPath")}
			}
		case "RequestMirror":
			if b := rules.LookupMap(fm, "requestMirror", "backendRef"); b != nil {
				mirrors = append(mirrors, ReadRef(route, b, at.Child(k, "requestMirror", "backendRef"), "", "Service"))
			}
		}
	}
	return rewrite, mirrors
}

// PrefixCovers reports whether a PathPrefix match of prefix matches every
// request path under want. Gateway API prefixes match whole path elements
// and ignore a trailing slash, so /api covers /api/auth but not /apix.
func PrefixCovers(prefix, want string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	want = strings.TrimSuffix(want, "/")
	return prefix == "" || want == prefix || strings.HasPrefix(want, prefix+"/")
}

// HostnameMatches applies a route hostname (possibly "*.example.com", which
// matches one or more labels in front of example.com) to a request host.
func HostnameMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return pattern == host
}

// Hostnames lists spec.hostnames.
func Hostnames(route *rules.Object) []string {
	var out []string
	for _, h := range rules.LookupList(route.Content, "spec", "hostnames") {
		if s, ok := h.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Serving is the HTTPRoute rule that would serve a URL through the
// gateway, with the prefix it matched on and its path rewrite.
type Serving struct {
	// Route is the serving HTTPRoute's namespace/name.
	Route    string
	Prefix   string
	Rewrite  *Rewrite
	Backends []Ref
}

// Apply returns the path the backend receives.
func (s *Serving) Apply(path string) string {
	if s.Rewrite == nil {
		return path
	}
	if s.Rewrite.Type == "ReplaceFullPath" {
		return s.Rewrite.Value
	}
	rest := path[len(strings.TrimSuffix(s.Prefix, "/")):]
	out := strings.TrimSuffix(s.Rewrite.Value, "/") + rest
	if out == "" {
		out = "/"
	}
	return out
}

// ServingRuleFor finds the rule that serves u through the gateway: among
// HTTPRoutes that serve u's host, the one with the longest PathPrefix match
// wins, as in the Gateway API. A route serves a host it lists in hostnames;
// a route without hostnames serves any host, but only requests that reach a
// Gateway at all, so then the host must be a parent Gateway's in-cluster
// Service name (kgateway names it after the Gateway). A URL naming a
// backend's Service directly bypasses the gateway and is served by nothing.
func ServingRuleFor(c *rules.Context, ns string, u *url.URL) *Serving {
	host := strings.ToLower(u.Hostname())
	var best *Serving
	for _, route := range routesByHost(c).candidates(c, host, ns) {
		if !routeServesHost(route, host, ns) {
			continue
		}
		for _, rule := range Rules(route) {
			for _, prefix := range rule.Prefixes {
				if !PrefixCovers(prefix, u.Path) {
					continue
				}
				if best == nil || len(strings.TrimSuffix(prefix, "/")) > len(strings.TrimSuffix(best.Prefix, "/")) {
					best = &Serving{Route: route.Namespace() + "/" + route.Name(), Prefix: prefix, Rewrite: rule.Rewrite, Backends: rule.Backends}
				}
			}
		}
	}
	return best
}

// routeHosts narrows the HTTPRoutes that may serve a host, so finding the
// serving rule for each Bifrost config does not read every route: lint
// over a whole tree would otherwise cost configs x routes.
type routeHosts struct {
	// routes names the HTTPRoutes, which candidates looks up again: the
	// webhook keeps this fact across requests, and holding the objects
	// would keep every route decoded besides its bounded cache.
	routes []routeName
	// exact maps a lowercased hostname to the routes listing it, wildcard
	// lists routes with a "*." hostname, and byParent the routes without
	// hostnames by parent Gateway (namespace/name). Each holds positions in
	// routes, ascending.
	exact    map[string][]int
	wildcard []int
	byParent map[string][]int
}

// routesByHost indexes the run's HTTPRoutes once.
func routesByHost(c *rules.Context) *routeHosts {
	return c.SharedOver("httproutes-by-host", []schema.GroupKind{HTTPRouteKind}, func() any {
		rh := &routeHosts{exact: map[string][]int{}, byParent: map[string][]int{}}
		rules.Each(c.Index, HTTPRouteKind, "", func(route *rules.Object) {
			i := len(rh.routes)
			rh.routes = append(rh.routes, routeName{route.Namespace(), route.Name()})
			names := Hostnames(route)
			if len(names) == 0 {
				for _, p := range Parents(route) {
					if p.IsGateway() {
						k := p.Namespace + "/" + p.Name
						rh.byParent[k] = appendOnce(rh.byParent[k], i)
					}
				}
				return
			}
			for _, h := range names {
				h = strings.ToLower(h)
				if strings.HasPrefix(h, "*") {
					rh.wildcard = appendOnce(rh.wildcard, i)
				} else {
					rh.exact[h] = appendOnce(rh.exact[h], i)
				}
			}
		})
		return rh
	}).(*routeHosts)
}

type routeName struct{ namespace, name string }

func appendOnce(list []int, i int) []int {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
}

// candidates returns, in index order, the routes that may serve host: a
// superset of those routeServesHost accepts.
func (rh *routeHosts) candidates(c *rules.Context, host, ns string) []*rules.Object {
	lists := [][]int{rh.exact[host], rh.wildcard}
	if name, svcNS, ok := kube.ServiceHost(host, ns); ok {
		lists = append(lists, rh.byParent[svcNS+"/"+name])
	}
	var pos []int
	for _, l := range lists {
		pos = append(pos, l...)
	}
	if len(pos) == 0 {
		return nil
	}
	slices.Sort(pos)
	pos = slices.Compact(pos)
	out := make([]*rules.Object, 0, len(pos))
	for _, p := range pos {
		if route := c.Index.Get(HTTPRouteKind, rh.routes[p].namespace, rh.routes[p].name); route != nil {
			out = append(out, route)
		}
	}
	return out
}

func routeServesHost(route *rules.Object, host, ns string) bool {
	if names := Hostnames(route); len(names) > 0 {
		for _, h := range names {
			if HostnameMatches(h, host) {
				return true
			}
		}
		return false
	}
	name, svcNS, ok := kube.ServiceHost(host, ns)
	if !ok {
		return false
	}
	for _, p := range Parents(route) {
		if p.IsGateway() && p.Name == name && p.Namespace == svcNS {
			return true
		}
	}
	return false
}
