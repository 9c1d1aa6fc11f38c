package gateway

import (
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// ServesPathTo reports whether a rule of route sends requests for path to
// backend b.
func ServesPathTo(route *rules.Object, b Ref, path string) bool {
	for _, rule := range Rules(route) {
		if !rule.RoutesTo(b) {
			continue
		}
		for _, p := range rule.Prefixes {
			if PrefixCovers(p, path) {
				return true
			}
		}
	}
	return false
}

// RoutesTo reports whether the rule has b among its backends.
func (r Rule) RoutesTo(b Ref) bool {
	for _, x := range r.Backends {
		if x.Key() == b.Key() {
			return true
		}
	}
	return false
}

// ShareParent reports whether two routes attach to a common parent.
func ShareParent(a, b *rules.Object) bool {
	for _, pa := range Parents(a) {
		for _, pb := range Parents(b) {
			if pa.Key() == pb.Key() {
				return true
			}
		}
	}
	return false
}

// HostnamesOverlap reports whether two hostname lists share a host; a route
// without hostnames serves every host.
func HostnamesOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) || HostnameMatches(x, y) || HostnameMatches(y, x) {
				return true
			}
		}
	}
	return false
}
