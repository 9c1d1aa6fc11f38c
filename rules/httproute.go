package rules

import (
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// gatewayGroup is the Gateway API's group; an omitted parentRef group means it.
const gatewayGroup = "gateway.networking.k8s.io"

var (
	HTTPRouteKind      = schema.GroupKind{Group: gatewayGroup, Kind: "HTTPRoute"}
	ReferenceGrantKind = schema.GroupKind{Group: gatewayGroup, Kind: "ReferenceGrant"}
	NamespaceKind      = schema.GroupKind{Kind: "Namespace"}
)

// routeRef is a backendRef or parentRef of an HTTPRoute with the API's
// defaults filled in: a backend is a core Service, a parent a Gateway, and
// either lives in the route's namespace unless it names another.
type routeRef struct {
	Group, Kind, Namespace, Name string
	// Port is 0 when the reference has none; SectionName only on parents.
	Port        int64
	SectionName string
	// CrossNamespace is set when the reference names a namespace other than
	// the route's.
	CrossNamespace bool
	Path           Path
}

func (r routeRef) isService() bool { return r.Group == "" && r.Kind == "Service" }

func (r routeRef) isGateway() bool { return r.Group == gatewayGroup && r.Kind == "Gateway" }

// key identifies the referenced object, whatever section or port.
func (r routeRef) key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// describe names the target for a message: "Service ai-external/bifrost".
func (r routeRef) describe() string {
	kind := r.Kind
	if r.Group != "" && !r.isService() && !r.isGateway() {
		kind = r.Kind + "." + r.Group
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

func readRouteRef(route *Object, m map[string]any, at Path, defaultGroup, defaultKind string) routeRef {
	r := routeRef{Group: defaultGroup, Kind: defaultKind, Namespace: route.Namespace(), Path: at}
	if g, ok := m["group"].(string); ok {
		r.Group = g
	}
	if k, ok := m["kind"].(string); ok && k != "" {
		r.Kind = k
	}
	if ns, ok := m["namespace"].(string); ok && ns != "" && ns != route.Namespace() {
		r.Namespace, r.CrossNamespace = ns, true
	}
	r.Name = LookupString(m, "name")
	r.Port, _ = asInt(m["port"])
	r.SectionName = LookupString(m, "sectionName")
	return r
}

// routeParents lists an HTTPRoute's parentRefs.
func routeParents(route *Object) []routeRef {
	var out []routeRef
	for i, p := range LookupList(route.Content, "spec", "parentRefs") {
		if m, ok := p.(map[string]any); ok {
			out = append(out, readRouteRef(route, m, P("spec", "parentRefs", i), gatewayGroup, "Gateway"))
		}
	}
	return out
}

// routeRule is one entry of an HTTPRoute's spec.rules, reduced to what the
// rules here look at.
type routeRule struct {
	Path Path
	// Prefixes are the rule's path matches that match by prefix; a rule
	// without matches (or a match without a path) matches the prefix "/".
	Prefixes []string
	// Rewrite is the rule's URLRewrite path filter, if any.
	Rewrite *pathRewrite
	// Backends are the rule's backendRefs; Mirrors the backends of its
	// RequestMirror filters, which are references all the same.
	Backends []routeRef
	Mirrors  []routeRef
}

// pathRewrite is a URLRewrite filter's path modifier.
type pathRewrite struct {
	Type  string // ReplacePrefixMatch or ReplaceFullPath
	Value string
	Path  Path
}

// routeRules decodes an HTTPRoute's rules.
func routeRules(route *Object) []routeRule {
	var out []routeRule
	for i, r := range LookupList(route.Content, "spec", "rules") {
		m, _ := r.(map[string]any)
		at := P("spec", "rules", i)
		rr := routeRule{Path: at}
		matches := LookupList(m, "matches")
		if len(matches) == 0 {
			rr.Prefixes = []string{"/"}
		}
		for _, match := range matches {
			path := LookupMap(match, "path")
			typ := LookupString(path, "type")
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
		rr.Rewrite, rr.Mirrors = readFilters(route, LookupList(m, "filters"), at.Child("filters"))
		for j, b := range LookupList(m, "backendRefs") {
			bm, ok := b.(map[string]any)
			if !ok {
				continue
			}
			bat := at.Child("backendRefs", j)
			rr.Backends = append(rr.Backends, readRouteRef(route, bm, bat, "", "Service"))
			_, mirrors := readFilters(route, LookupList(bm, "filters"), bat.Child("filters"))
			rr.Mirrors = append(rr.Mirrors, mirrors...)
		}
		out = append(out, rr)
	}
	return out
}

func readFilters(route *Object, filters []any, at Path) (*pathRewrite, []routeRef) {
	var rewrite *pathRewrite
	var mirrors []routeRef
	for k, f := range filters {
		fm, _ := f.(map[string]any)
		switch LookupString(fm, "type") {
		case "URLRewrite":
			p := LookupMap(fm, "urlRewrite", "path")
			typ := LookupString(p, "type")
			fat := at.Child(k, "urlRewrite", "path")
			switch typ {
			case "ReplacePrefixMatch":
				rewrite = &pathRewrite{Type: typ, Value: LookupString(p, "replacePrefixMatch"), Path: fat.Child("replacePrefixMatch")}
			case "ReplaceFullPath":
				rewrite = &pathRewrite{Type: typ, Value: LookupString(p, "replaceFullPath"), Path: fat.Child("replaceFullPath")}
			}
		case "RequestMirror":
			if b := LookupMap(fm, "requestMirror", "backendRef"); b != nil {
				mirrors = append(mirrors, readRouteRef(route, b, at.Child(k, "requestMirror", "backendRef"), "", "Service"))
			}
		}
	}
	return rewrite, mirrors
}

// prefixCovers reports whether a PathPrefix match of prefix matches every
// request path under want. Gateway API prefixes match whole path elements
// and ignore a trailing slash, so /api covers /api/auth but not /apix.
func prefixCovers(prefix, want string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	want = strings.TrimSuffix(want, "/")
	return prefix == "" || want == prefix || strings.HasPrefix(want, prefix+"/")
}

// hostnameMatches applies a route hostname (possibly "*.example.com", which
// matches one or more labels in front of example.com) to a request host.
func hostnameMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return pattern == host
}

// routeHostnames lists spec.hostnames.
func routeHostnames(route *Object) []string {
	var out []string
	for _, h := range LookupList(route.Content, "spec", "hostnames") {
		if s, ok := h.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// servingRule is the HTTPRoute rule that would serve a URL through the
// gateway, with the prefix it matched on and its path rewrite.
type servingRule struct {
	route    string
	prefix   string
	rewrite  *pathRewrite
	backends []routeRef
}

// apply returns the path the backend receives.
func (s *servingRule) apply(path string) string {
	if s.rewrite == nil {
		return path
	}
	if s.rewrite.Type == "ReplaceFullPath" {
		return s.rewrite.Value
	}
	rest := path[len(strings.TrimSuffix(s.prefix, "/")):]
	out := strings.TrimSuffix(s.rewrite.Value, "/") + rest
	if out == "" {
		out = "/"
	}
	return out
}

// servingRuleFor finds the rule that serves u through the gateway: among
// HTTPRoutes that serve u's host, the one with the longest PathPrefix match
// wins, as in the Gateway API. A route serves a host it lists in hostnames;
// a route without hostnames serves any host, but only requests that reach a
// Gateway at all, so then the host must be a parent Gateway's in-cluster
// Service name (kgateway names it after the Gateway). A URL naming a
// backend's Service directly bypasses the gateway and is served by nothing.
func servingRuleFor(c *Context, ns string, u *url.URL) *servingRule {
	host := strings.ToLower(u.Hostname())
	var best *servingRule
	for _, route := range routesByHost(c).candidates(host, ns) {
		if !routeServesHost(route, host, ns) {
			continue
		}
		for _, rule := range routeRules(route) {
			for _, prefix := range rule.Prefixes {
				if !prefixCovers(prefix, u.Path) {
					continue
				}
				if best == nil || len(strings.TrimSuffix(prefix, "/")) > len(strings.TrimSuffix(best.prefix, "/")) {
					best = &servingRule{route: route.Namespace() + "/" + route.Name(), prefix: prefix, rewrite: rule.Rewrite, backends: rule.Backends}
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
	routes []*Object
	// exact maps a lowercased hostname to the routes listing it, wildcard
	// lists routes with a "*." hostname, and byParent the routes without
	// hostnames by parent Gateway (namespace/name). Each holds positions in
	// routes, ascending.
	exact    map[string][]int
	wildcard []int
	byParent map[string][]int
}

// routesByHost indexes the run's HTTPRoutes once.
func routesByHost(c *Context) *routeHosts {
	return c.SharedOver("httproutes-by-host", []schema.GroupKind{HTTPRouteKind}, func() any {
		rh := &routeHosts{routes: c.Index.List(HTTPRouteKind, ""), exact: map[string][]int{}, byParent: map[string][]int{}}
		for i, route := range rh.routes {
			names := routeHostnames(route)
			if len(names) == 0 {
				for _, p := range routeParents(route) {
					if p.isGateway() {
						k := p.Namespace + "/" + p.Name
						rh.byParent[k] = appendOnce(rh.byParent[k], i)
					}
				}
				continue
			}
			for _, h := range names {
				h = strings.ToLower(h)
				if strings.HasPrefix(h, "*") {
					rh.wildcard = appendOnce(rh.wildcard, i)
				} else {
					rh.exact[h] = appendOnce(rh.exact[h], i)
				}
			}
		}
		return rh
	}).(*routeHosts)
}

func appendOnce(list []int, i int) []int {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
}

// candidates returns, in index order, the routes that may serve host: a
// superset of those routeServesHost accepts.
func (rh *routeHosts) candidates(host, ns string) []*Object {
	lists := [][]int{rh.exact[host], rh.wildcard}
	if name, svcNS, ok := serviceHost(host, ns); ok {
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
	out := make([]*Object, len(pos))
	for i, p := range pos {
		out[i] = rh.routes[p]
	}
	return out
}

func routeServesHost(route *Object, host, ns string) bool {
	if names := routeHostnames(route); len(names) > 0 {
		for _, h := range names {
			if hostnameMatches(h, host) {
				return true
			}
		}
		return false
	}
	name, svcNS, ok := serviceHost(host, ns)
	if !ok {
		return false
	}
	for _, p := range routeParents(route) {
		if p.isGateway() && p.Name == name && p.Namespace == svcNS {
			return true
		}
	}
	return false
}

// serviceHost splits an in-cluster Service host name (name, name.ns,
// name.ns.svc, name.ns.svc.cluster.local) relative to namespace ns.
func serviceHost(host, ns string) (name, svcNS string, ok bool) {
	labels := strings.Split(host, ".")
	switch {
	case len(labels) == 1 && ns != "":
		return labels[0], ns, true
	case len(labels) == 2, len(labels) >= 3 && labels[2] == "svc":
		return labels[0], labels[1], true
	}
	return "", "", false
}
