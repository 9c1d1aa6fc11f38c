// Package checks holds the rules that guard the Gateway API and kgateway objects
// in front of the stack: routes, their references, GatewayClasses.
package checks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
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
// parentRef to a Gateway against its listeners. kgateway's route
// delegation (a backendRef to HTTPRoutes or to a delegation label) is not a
// ReferenceGrant matter and is not judged, nor are other parent kinds (a
// Service, for mesh routes), which are implementation-specific.
var HTTPRouteReferenceGrant = &rules.Rule{
	ID:       "httproute-reference-grant",
	Summary:  "Cross-namespace HTTPRoute references must be allowed: backends by a ReferenceGrant, Gateways by allowedRoutes",
	Severity: rules.Error,
	Rationale: "kgateway routes to a backend (a Service, its own Backend kind) in another namespace only " +
		"when a ReferenceGrant in that namespace allows HTTPRoutes from the route's namespace to that " +
		"kind (and name, if the grant names one); without it the reference is refused (ResolvedRefs=False, " +
		"RefNotPermitted) and the rule's requests get no backend. A RequestMirror backend without a " +
		"grant is dropped silently: the route keeps working, the copies never arrive (kgateway v2.3.0 " +
		"pkg/krtcollections/policy.go BackendIndex.GetBackendFromRef and builtin.go convertMirrorIR). " +
		"Write a ReferenceGrant in the backend's namespace with from {group: gateway.networking.k8s.io, " +
		"kind: HTTPRoute, namespace: <route's>} and to {group: \"\", kind: Service}; its v1 version " +
		"needs the Gateway API CRDs of v1.5.0 or later (v1beta1 works everywhere). kgateway's route " +
		"delegation is not governed by ReferenceGrant and is not judged: a backendRef with group " +
		"gateway.networking.k8s.io and kind HTTPRoute (name \"*\" for all routes of a namespace), or " +
		"group delegation.kgateway.dev and kind label, hands the request to child routes that opt in " +
		"through their parentRefs (kgateway v2.0.0 to v2.3.0, pkg/krtcollections/policy.go getBackends). " +
		"A parentRef to a Gateway in another namespace is not governed by ReferenceGrant either, but by " +
		"the Gateway listener's allowedRoutes.namespaces: `from: Same` (the default) rejects the route " +
		"(NotAllowedByListeners), `All` admits it, `Selector` admits namespaces whose labels match " +
		"(Gateway API v1.5.0 apis/v1/referencegrant_types.go, shared_types.go). In lint, a target " +
		"namespace with no object in the input is reported as info: the grant or Gateway may live elsewhere.",
	Kinds: []schema.GroupKind{gateway.HTTPRouteKind},
	Check: checkReferenceGrants,
}

func checkReferenceGrants(c *rules.Context, obj *rules.Object) {
	for _, rule := range gateway.Rules(obj) {
		for _, b := range rule.Backends {
			if b.CrossNamespace && b.Name != "" && !b.IsDelegation() {
				checkBackendGrant(c, obj, b, false)
			}
		}
		for _, b := range rule.Mirrors {
			if b.CrossNamespace && b.Name != "" {
				checkBackendGrant(c, obj, b, true)
			}
		}
	}
	for _, p := range gateway.Parents(obj) {
		if p.CrossNamespace && p.IsGateway() && p.Name != "" {
			checkGatewayAdmits(c, obj, p)
		}
	}
}

func checkBackendGrant(c *rules.Context, route *rules.Object, b gateway.Ref, mirror bool) {
	at := b.Path.Child("namespace")
	what, refused, severity := "backendRef", "kgateway refuses the reference and this rule's requests get no backend", rules.Error
	if mirror {
		what, refused, severity = "RequestMirror backend", "kgateway drops the mirror silently (the route keeps serving, the copies never arrive)", rules.Warning
	}
	grantText := fmt.Sprintf("a ReferenceGrant in %s with from {group: %s, kind: HTTPRoute, namespace: %s} and to {group: %q, kind: %s}",
		b.Namespace, gateway.Group, route.Namespace(), b.Group, b.Kind)
	if !rules.NamespaceKnown(c.Index, b.Namespace) {
		c.Report(rules.Finding{Severity: rules.Info, Path: at, Message: fmt.Sprintf(
			"%s to %s crosses namespaces and nothing in %s is in the input, so the ReferenceGrant may live elsewhere; make sure there is %s, or kgateway refuses the reference",
			what, b.Describe(), b.Namespace, grantText)})
		return
	}
	if !rules.KindKnown(c.Index, gateway.ReferenceGrantKind) {
		c.Report(rules.Finding{Severity: rules.Info, Path: at, Message: fmt.Sprintf(
			"%s to %s crosses namespaces, and gjallar cannot see ReferenceGrants here (their CRD is not cached); make sure there is %s",
			what, b.Describe(), grantText)})
		return
	}
	var near []string
	for _, g := range c.Index.List(gateway.ReferenceGrantKind, b.Namespace) {
		fromOK, toOK := gateway.GrantAllows(g, route.Namespace(), b)
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
	c.Report(rules.Finding{Severity: severity, Path: at, Message: fmt.Sprintf(
		"%s to %s crosses namespaces, but no ReferenceGrant in %s allows HTTPRoutes from %s%s, so %s; add %s",
		what, b.Describe(), b.Namespace, route.Namespace(), hint, refused, grantText)})
}

func checkGatewayAdmits(c *rules.Context, route *rules.Object, p gateway.Ref) {
	gw := c.Index.Get(gateway.GatewayKind, p.Namespace, p.Name)
	if gw == nil {
		if !rules.NamespaceKnown(c.Index, p.Namespace) {
			c.Report(rules.Finding{Severity: rules.Info, Path: p.Path, Message: fmt.Sprintf(
				"parentRef to %s crosses namespaces and the Gateway is not in the input; make sure its listener's allowedRoutes.namespaces admits %s (from: All, or a Selector matching it), since the default (Same) rejects the route and a ReferenceGrant does not help",
				p.Describe(), route.Namespace())})
		}
		return // a missing Gateway is not a permission problem
	}
	best, considered := gateway.Rejects, 0
	var froms []string
	for _, l := range rules.LookupList(gw.Content, "spec", "listeners") {
		lm, _ := l.(map[string]any)
		if !gateway.ListenerSelected(lm, p) || !gateway.ListenerTakesHTTPRoutes(lm) {
			continue
		}
		considered++
		v, from := gateway.JudgeListener(c.Index, lm, route.Namespace())
		froms = append(froms, from)
		best = max(best, v)
	}
	if considered == 0 || best == gateway.Admits {
		return // no listener for this route at all is another problem
	}
	if best == gateway.Unknown {
		c.Report(rules.Finding{Severity: rules.Info, Path: p.Path, Message: fmt.Sprintf(
			"parentRef to %s crosses namespaces and its listener admits namespaces by label selector, but Namespace %s is not in the input, so whether the route attaches cannot be told; check that its labels match allowedRoutes.namespaces.selector",
			p.Describe(), route.Namespace())})
		return
	}
	c.Reportf(p.Path,
		"parentRef to %s crosses namespaces, but no listener of that Gateway admits routes from %s (allowedRoutes.namespaces.from: %s), so the route is never attached; a ReferenceGrant does not help here: set from: All, or a Selector matching %s, on the listener",
		p.Describe(), route.Namespace(), strings.Join(slices.Compact(slices.Sorted(slices.Values(froms))), ", "), route.Namespace())
}
