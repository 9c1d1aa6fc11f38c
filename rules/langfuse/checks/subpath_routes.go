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
	Summary:  "Langfuse served under /langfuse by rewriting to / also needs its root paths routed to it (or a base-path build)",
	Severity: rules.Warning,
	Rationale: "Langfuse's web UI is a Next.js app built for `/`. Rewriting `/langfuse/` to `/` serves its " +
		"first page, but the page then loads its scripts from `/_next`, signs in through `/api/auth`, " +
		"makes every data call to `/api/trpc` and navigates to page routes such as `/project/...` and " +
		"`/auth/sign-in`, all at the root (langfuse/langfuse v4.16.0 web/src/utils/api.ts, " +
		"web/src/server/auth.ts, web/src/pages): without routes for those the UI stays blank or sign-in " +
		"fails. Langfuse supports a sub-path only with an image built with `NEXT_PUBLIC_BASE_PATH=/langfuse` " +
		"and `NEXTAUTH_URL=https://<host>/langfuse/api/auth` (its \"custom base path\" docs; the prebuilt " +
		"image cannot), or on its own hostname; routing every root path to it also works but takes " +
		"those paths from everything else on the host. `/api/public` (SDKs, OTLP) works under the prefix.",
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
					"this rule serves %s under /langfuse by rewriting to /, but nothing on the same Gateway routes %s to it; the UI loads its scripts, signs in, fetches its data and navigates at those root paths, so the page stays blank or sign-in fails; serve Langfuse on its own hostname, or build its image with NEXT_PUBLIC_BASE_PATH=/langfuse (and NEXTAUTH_URL ending in /langfuse/api/auth) and route /langfuse to it without the rewrite",
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
