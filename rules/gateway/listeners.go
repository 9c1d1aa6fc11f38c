package gateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gjallar-dev/gjallar/rules"
)

// GrantAllows reports whether a ReferenceGrant trusts HTTPRoutes from
// namespace fromNS, and whether it exposes the target.
func GrantAllows(grant *rules.Object, fromNS string, target Ref) (fromOK, toOK bool) {
	for _, f := range rules.LookupList(grant.Content, "spec", "from") {
		if rules.LookupString(f, "group") == Group && rules.LookupString(f, "kind") == "HTTPRoute" && rules.LookupString(f, "namespace") == fromNS {
			fromOK = true
		}
	}
	for _, t := range rules.LookupList(grant.Content, "spec", "to") {
		name := rules.LookupString(t, "name")
		if rules.LookupString(t, "group") == target.Group && rules.LookupString(t, "kind") == target.Kind && (name == "" || name == target.Name) {
			toOK = true
		}
	}
	return fromOK, toOK
}

// Verdict is what one listener says about a route from another namespace.
type Verdict int

const (
	Rejects Verdict = iota
	Unknown         // a Selector on a Namespace not in the index
	Admits
)

// ListenerSelected applies a parentRef's sectionName and port.
func ListenerSelected(l map[string]any, p Ref) bool {
	if p.SectionName != "" && rules.LookupString(l, "name") != p.SectionName {
		return false
	}
	if p.Port != 0 {
		if port, ok := rules.AsInt(l["port"]); ok && port != p.Port {
			return false
		}
	}
	return true
}

// ListenerTakesHTTPRoutes: an explicit allowedRoutes.kinds list must name
// HTTPRoute; otherwise the listener's protocol decides (HTTP and HTTPS take
// HTTPRoutes, TCP, UDP and TLS do not; other protocols are the
// implementation's and are given the benefit of the doubt).
func ListenerTakesHTTPRoutes(l map[string]any) bool {
	if kinds := rules.LookupList(l, "allowedRoutes", "kinds"); len(kinds) > 0 {
		for _, k := range kinds {
			group, hasGroup := rules.LookupMap(k)["group"].(string)
			if !hasGroup {
				group = Group
			}
			if group == Group && rules.LookupString(k, "kind") == "HTTPRoute" {
				return true
			}
		}
		return false
	}
	switch rules.LookupString(l, "protocol") {
	case "TCP", "UDP", "TLS":
		return false
	}
	return true
}

// JudgeListener judges allowedRoutes.namespaces for a route in another
// namespace than the Gateway's, and returns the from value as written.
func JudgeListener(idx rules.Index, l map[string]any, ns string) (Verdict, string) {
	nsm := rules.LookupMap(l, "allowedRoutes", "namespaces")
	from := rules.LookupString(nsm, "from")
	switch from {
	case "All":
		return Admits, from
	case "Selector":
		return SelectorAdmits(idx, rules.LookupMap(nsm, "selector"), ns), from
	case "":
		// Unset means Same; say so the way the API server, which fills in
		// the default before the webhook sees the Gateway, would show it.
		return Rejects, "Same"
	}
	return Rejects, from // Same, None
}

// namespaceNameLabel is set by the API server on every Namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// SelectorAdmits matches a namespace selector against the Namespace's labels
// (plus kubernetes.io/metadata.name). Without the Namespace object, a
// selector on that label alone can still be decided.
func SelectorAdmits(idx rules.Index, sel map[string]any, ns string) Verdict {
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err != nil {
		return Rejects // an invalid selector selects nothing
	}
	selector, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return Rejects
	}
	set := labels.Set{namespaceNameLabel: ns}
	if nsObj := idx.Get(rules.NamespaceKind, "", ns); nsObj != nil {
		for k, v := range rules.StringMap(rules.LookupMap(nsObj.Content, "metadata", "labels")) {
			set[k] = v
		}
		set[namespaceNameLabel] = ns
	} else if !onlyNameLabel(&ls) {
		return Unknown
	}
	if selector.Matches(set) {
		return Admits
	}
	return Rejects
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
