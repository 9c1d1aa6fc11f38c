package checks

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
	"github.com/gjallar-dev/gjallar/rules/langfuse"
)

// LangfuseSubpathRoutes checks that Langfuse served under /langfuse also gets
// the root paths its UI needs.
var LangfuseSubpathRoutes = &rules.Rule{
	ID:       "langfuse-subpath-routes",
	Summary:  "Langfuse served under /langfuse also needs /_next, /api/auth and /api/public routed to it",
	Severity: rules.Warning,
	Rationale: "Langfuse's web UI is a Next.js app built to run at `/`. Rewriting `/langfuse/` to `/` " +
		"serves its first page, but the page then loads its scripts from `/_next`, signs in through " +
		"`/api/auth` and calls `/api/public` at the root, so without routes for those the UI stays " +
		"blank and login fails. Add PathPrefix rules for `/_next`, `/api/auth` and `/api/public` to " +
		"the same Service, in the same HTTPRoute or another one attached to the same Gateway (as the " +
		"runbook's langfuse-route does), or give Langfuse its own hostname.",
	Kinds: []schema.GroupKind{gateway.HTTPRouteKind},
	Check: checkLangfuseSubpath,
}

func checkLangfuseSubpath(c *rules.Context, obj *rules.Object) {
	for _, rule := range gateway.Rules(obj) {
		if !stripsLangfusePrefix(rule) {
			continue
		}
		for _, b := range rule.Backends {
			if b.Name == "" {
				continue
			}
			var missing []string
			for _, want := range langfuse.RootPaths {
				if !routedElsewhere(c, obj, b, want) {
					missing = append(missing, want)
				}
			}
			if len(missing) > 0 {
				c.Reportf(rule.Path,
					"this rule serves %s under /langfuse by rewriting to /, but nothing on the same Gateway routes %s to it; the UI fetches its scripts, login and API from those root paths, so the page stays blank or sign-in fails; add PathPrefix rules for them to the same backend",
					b.Describe(), strings.Join(missing, ", "))
			}
		}
	}
}

// stripsLangfusePrefix: a PathPrefix match on /langfuse (or /langfuse/)
// rewritten to /.
func stripsLangfusePrefix(rule gateway.Rule) bool {
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
func routedElsewhere(c *rules.Context, route *rules.Object, b gateway.Ref, path string) bool {
	if gateway.ServesPathTo(route, b, path) {
		return true
	}
	for _, other := range c.Index.List(gateway.HTTPRouteKind, "") {
		if other.Namespace() == route.Namespace() && other.Name() == route.Name() {
			continue // route itself, or an older copy of it in the webhook's cache
		}
		if gateway.ShareParent(route, other) && gateway.HostnamesOverlap(gateway.Hostnames(route), gateway.Hostnames(other)) && gateway.ServesPathTo(other, b, path) {
			return true
		}
	}
	return false
}
