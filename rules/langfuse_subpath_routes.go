package rules

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// langfuseRootPaths are the root paths the Langfuse web UI (Next.js) still
// calls when it is served under a prefix.
var langfuseRootPaths = []string{"/_next", "/api/auth", "/api/public"}

// LangfuseSubpathRoutes checks that Langfuse served under /langfuse also gets
// the root paths its UI needs.
var LangfuseSubpathRoutes = &Rule{
	ID:       "langfuse-subpath-routes",
	Summary:  "Langfuse served under /langfuse also needs /_next, /api/auth and /api/public routed to it",
	Severity: Warning,
	Rationale: "Langfuse's web UI is a Next.js app built to run at `/`. Rewriting `/langfuse/` to `/` " +
		"serves its first page, but the page then loads its scripts from `/_next`, signs in through " +
		"`/api/auth` and calls `/api/public` at the root, so without routes for those the UI stays " +
		"blank and login fails. Add PathPrefix rules for `/_next`, `/api/auth` and `/api/public` to " +
		"the same Service, in the same HTTPRoute or another one attached to the same Gateway (as the " +
		"runbook's langfuse-route does), or give Langfuse its own hostname.",
	Kinds: []schema.GroupKind{HTTPRouteKind},
	Check: checkLangfuseSubpath,
}

func checkLangfuseSubpath(c *Context, obj *Object) {
	for _, rule := range routeRules(obj) {
		if !stripsLangfusePrefix(rule) {
			continue
		}
		for _, b := range rule.Backends {
			if b.Name == "" {
				continue
			}
			var missing []string
			for _, want := range langfuseRootPaths {
				if !routedElsewhere(c, obj, b, want) {
					missing = append(missing, want)
				}
			}
			if len(missing) > 0 {
				c.Reportf(rule.Path,
					"this rule serves %s under /langfuse by rewriting to /, but nothing on the same Gateway routes %s to it; the UI fetches its scripts, login and API from those root paths, so the page stays blank or sign-in fails; add PathPrefix rules for them to the same backend",
					b.describe(), strings.Join(missing, ", "))
			}
		}
	}
}

// stripsLangfusePrefix: a PathPrefix match on /langfuse (or /langfuse/)
// rewritten to /.
func stripsLangfusePrefix(rule routeRule) bool {
	if rule.Rewrite == nil || rule.Rewrite.Type != "ReplacePrefixMatch" || strings.TrimSuffix(rule.Rewrite.Value, "/") != "" {
		return false
	}
	for _, p := range rule.Prefixes {
		if strings.TrimSuffix(p, "/") == "/langfuse" {
			return true
		}
	}
	return false
}

// routedElsewhere reports whether route, or another HTTPRoute sharing a
// parent and a hostname with it, sends path to backend b.
func routedElsewhere(c *Context, route *Object, b routeRef, path string) bool {
	if routeServesPathTo(route, b, path) {
		return true
	}
	for _, other := range c.Index.List(HTTPRouteKind, "") {
		if other.Namespace() == route.Namespace() && other.Name() == route.Name() {
			continue // route itself, or an older copy of it in the webhook's cache
		}
		if shareParent(route, other) && hostnamesOverlap(routeHostnames(route), routeHostnames(other)) && routeServesPathTo(other, b, path) {
			return true
		}
	}
	return false
}

func routeServesPathTo(route *Object, b routeRef, path string) bool {
	for _, rule := range routeRules(route) {
		if !routesTo(rule, b) {
			continue
		}
		for _, p := range rule.Prefixes {
			if prefixCovers(p, path) {
				return true
			}
		}
	}
	return false
}

func routesTo(rule routeRule, b routeRef) bool {
	for _, x := range rule.Backends {
		if x.key() == b.key() {
			return true
		}
	}
	return false
}

func shareParent(a, b *Object) bool {
	for _, pa := range routeParents(a) {
		for _, pb := range routeParents(b) {
			if pa.key() == pb.key() {
				return true
			}
		}
	}
	return false
}

// hostnamesOverlap: a route without hostnames serves every host.
func hostnamesOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) || hostnameMatches(x, y) || hostnameMatches(y, x) {
				return true
			}
		}
	}
	return false
}
