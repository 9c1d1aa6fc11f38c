package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HTTPRouteReferenceGrant checks that an HTTPRoute's references into other
// namespaces are allowed by whoever owns those namespaces.
//
// Backends and parents are allowed by different objects. The Gateway API
// requires a ReferenceGrant in the target namespace for every cross-namespace
// reference except a route attaching to a Gateway: that one is governed by
// the Gateway's listeners (allowedRoutes.namespaces), and a ReferenceGrant
// there does nothing. So a cross-namespace backendRef (and RequestMirror
// backend) is checked against ReferenceGrants, and a cross-namespace
// parentRef to a Gateway against its listeners. Other parent kinds (a
// Service, for mesh routes) are implementation-specific and not judged.
var HTTPRouteReferenceGrant = &Rule{
	ID:       "httproute-reference-grant",
	Summary:  "Cross-namespace HTTPRoute references must be allowed: backends by a ReferenceGrant, Gateways by allowedRoutes",
	Severity: Error,
	Rationale: "kgateway routes to a backend in another namespace only when a ReferenceGrant in that " +
		"namespace allows HTTPRoutes from the route's namespace to that kind (and name, if the grant " +
		"names one); without it the reference is refused (ResolvedRefs=False, RefNotPermitted) and the " +
		"path answers 500. Write a ReferenceGrant (gateway.networking.k8s.io, v1beta1 or v1) in the " +
		"backend's namespace with from {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: " +
		"<route's>} and to {group: \"\", kind: Service}. A parentRef to a Gateway in another namespace " +
		"is not governed by ReferenceGrant but by the Gateway listener's allowedRoutes.namespaces: " +
		"`from: Same` (the default) rejects the route (NotAllowedByListeners), `All` admits it, " +
		"`Selector` admits namespaces whose labels match. In lint, a target namespace with no object " +
		"in the input is reported as info: the grant or Gateway may live elsewhere.",
	Kinds: []schema.GroupKind{HTTPRouteKind},
	Check: checkReferenceGrants,
}

func checkReferenceGrants(c *Context, obj *Object) {
	for _, rule := range routeRules(obj) {
		for _, b := range append(append([]routeRef(nil), rule.Backends...), rule.Mirrors...) {
			if b.CrossNamespace && b.Name != "" {
				checkBackendGrant(c, obj, b)
			}
		}
	}
	for _, p := range routeParents(obj) {
		if p.CrossNamespace && p.isGateway() && p.Name != "" {
			checkGatewayAdmits(c, obj, p)
		}
	}
}

func checkBackendGrant(c *Context, route *Object, b routeRef) {
	at := b.Path.Child("namespace")
	grantText := fmt.Sprintf("a ReferenceGrant in %s with from {group: %s, kind: HTTPRoute, namespace: %s} and to {group: %q, kind: %s}",
		b.Namespace, gatewayGroup, route.Namespace(), b.Group, b.Kind)
	if !namespaceKnown(c.Index, b.Namespace) {
		c.Report(Finding{Severity: Info, Path: at, Message: fmt.Sprintf(
			"backendRef to %s crosses namespaces and nothing in %s is in the input, so the ReferenceGrant may live elsewhere; make sure there is %s, or kgateway refuses the reference",
			b.describe(), b.Namespace, grantText)})
		return
	}
	if !kindKnown(c.Index, ReferenceGrantKind) {
		c.Report(Finding{Severity: Info, Path: at, Message: fmt.Sprintf(
			"backendRef to %s crosses namespaces, and gjallar cannot see ReferenceGrants here (their CRD is not cached); make sure there is %s",
			b.describe(), grantText)})
		return
	}
	var near []string
	for _, g := range c.Index.List(ReferenceGrantKind, b.Namespace) {
		fromOK, toOK := grantAllows(g, route.Namespace(), b)
		if fromOK && toOK {
			return
		}
		if fromOK || toOK {
			near = append(near, g.Name())
		}
	}
	hint := ""
	if len(near) > 0 {
		sort.Strings(near)
		hint = fmt.Sprintf(" (%s there does not cover it)", strings.Join(near, ", "))
	}
	c.Reportf(at,
		"backendRef to %s crosses namespaces, but no ReferenceGrant in %s allows HTTPRoutes from %s%s, so kgateway refuses the reference and the path answers 500; add %s",
		b.describe(), b.Namespace, route.Namespace(), hint, grantText)
}

// grantAllows reports whether a ReferenceGrant trusts HTTPRoutes from
// namespace fromNS, and whether it exposes the target.
func grantAllows(grant *Object, fromNS string, target routeRef) (fromOK, toOK bool) {
	for _, f := range LookupList(grant.Content, "spec", "from") {
		if LookupString(f, "group") == gatewayGroup && LookupString(f, "kind") == "HTTPRoute" && LookupString(f, "namespace") == fromNS {
			fromOK = true
		}
	}
	for _, t := range LookupList(grant.Content, "spec", "to") {
		name := LookupString(t, "name")
		if LookupString(t, "group") == target.Group && LookupString(t, "kind") == target.Kind && (name == "" || name == target.Name) {
			toOK = true
		}
	}
	return fromOK, toOK
}

// listenerVerdict is what one listener says about a route from namespace ns.
type listenerVerdict int

const (
	listenerRejects listenerVerdict = iota
	listenerUnknown                 // a Selector on a Namespace not in the index
	listenerAdmits
)

func checkGatewayAdmits(c *Context, route *Object, p routeRef) {
	gw := c.Index.Get(GatewayKind, p.Namespace, p.Name)
	if gw == nil {
		if !namespaceKnown(c.Index, p.Namespace) {
			c.Report(Finding{Severity: Info, Path: p.Path, Message: fmt.Sprintf(
				"parentRef to %s crosses namespaces and the Gateway is not in the input; make sure its listener's allowedRoutes.namespaces admits %s (from: All, or a Selector matching it), since the default (Same) rejects the route and a ReferenceGrant does not help",
				p.describe(), route.Namespace())})
		}
		return // a missing Gateway is not a permission problem
	}
	best, considered := listenerRejects, 0
	var froms []string
	for _, l := range LookupList(gw.Content, "spec", "listeners") {
		lm, _ := l.(map[string]any)
		if !listenerSelected(lm, p) || !listenerTakesHTTPRoutes(lm) {
			continue
		}
		considered++
		v, from := judgeListener(c.Index, lm, route.Namespace())
		froms = append(froms, from)
		best = max(best, v)
	}
	if considered == 0 || best == listenerAdmits {
		return // no listener for this route at all is another problem
	}
	if best == listenerUnknown {
		c.Report(Finding{Severity: Info, Path: p.Path, Message: fmt.Sprintf(
			"parentRef to %s crosses namespaces and its listener admits namespaces by label selector, but Namespace %s is not in the input, so whether the route attaches cannot be told; check that its labels match allowedRoutes.namespaces.selector",
			p.describe(), route.Namespace())})
		return
	}
	c.Reportf(p.Path,
		"parentRef to %s crosses namespaces, but no listener of that Gateway admits routes from %s (allowedRoutes.namespaces.from: %s), so the route is never attached; a ReferenceGrant does not help here: set from: All, or a Selector matching %s, on the listener",
		p.describe(), route.Namespace(), strings.Join(slices.Compact(slices.Sorted(slices.Values(froms))), ", "), route.Namespace())
}

// listenerSelected applies a parentRef's sectionName and port.
func listenerSelected(l map[string]any, p routeRef) bool {
	if p.SectionName != "" && LookupString(l, "name") != p.SectionName {
		return false
	}
	if p.Port != 0 {
		if port, ok := asInt(l["port"]); ok && port != p.Port {
			return false
		}
	}
	return true
}

// listenerTakesHTTPRoutes: an explicit allowedRoutes.kinds list must name
// HTTPRoute; otherwise the listener's protocol decides (HTTP and HTTPS take
// HTTPRoutes, TCP, UDP and TLS do not; other protocols are the
// implementation's and are given the benefit of the doubt).
func listenerTakesHTTPRoutes(l map[string]any) bool {
	if kinds := LookupList(l, "allowedRoutes", "kinds"); len(kinds) > 0 {
		for _, k := range kinds {
			group, hasGroup := LookupMap(k)["group"].(string)
			if !hasGroup {
				group = gatewayGroup
			}
			if group == gatewayGroup && LookupString(k, "kind") == "HTTPRoute" {
				return true
			}
		}
		return false
	}
	switch LookupString(l, "protocol") {
	case "TCP", "UDP", "TLS":
		return false
	}
	return true
}

// judgeListener judges allowedRoutes.namespaces for a route in another
// namespace than the Gateway's, and returns the from value as written.
func judgeListener(idx Index, l map[string]any, ns string) (listenerVerdict, string) {
	nsm := LookupMap(l, "allowedRoutes", "namespaces")
	from := LookupString(nsm, "from")
	switch from {
	case "All":
		return listenerAdmits, from
	case "Selector":
		return selectorAdmits(idx, LookupMap(nsm, "selector"), ns), from
	case "":
		// Unset means Same; say so the way the API server, which fills in
		// the default before the webhook sees the Gateway, would show it.
		return listenerRejects, "Same"
	}
	return listenerRejects, from // Same, None
}

// namespaceNameLabel is set by the API server on every Namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// selectorAdmits matches a namespace selector against the Namespace's labels
// (plus kubernetes.io/metadata.name). Without the Namespace object, a
// selector on that label alone can still be decided.
func selectorAdmits(idx Index, sel map[string]any, ns string) listenerVerdict {
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err != nil {
		return listenerRejects // an invalid selector selects nothing
	}
	selector, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return listenerRejects
	}
	set := labels.Set{namespaceNameLabel: ns}
	if nsObj := idx.Get(NamespaceKind, "", ns); nsObj != nil {
		for k, v := range stringMap(LookupMap(nsObj.Content, "metadata", "labels")) {
			set[k] = v
		}
		set[namespaceNameLabel] = ns
	} else if !onlyNameLabel(&ls) {
		return listenerUnknown
	}
	if selector.Matches(set) {
		return listenerAdmits
	}
	return listenerRejects
}

func onlyNameLabel(ls *metav1.LabelSelector) bool {
	for k := range ls.MatchLabels {
		if k != namespaceNameLabel {
			return false
		}
	}
	for _, e := range ls.MatchExpressions {
		if e.Key != namespaceNameLabel {
			return false
		}
	}
	return true
}
