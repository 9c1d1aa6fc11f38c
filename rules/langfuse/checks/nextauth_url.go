package checks

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
	"github.com/gjallar-dev/gjallar/rules/kube"
	"github.com/gjallar-dev/gjallar/rules/langfuse"
)

// LangfuseNextAuthURL checks that Langfuse's NEXTAUTH_URL is the URL its
// routes serve it at.
var LangfuseNextAuthURL = &rules.Rule{
	ID:       "langfuse-nextauth-url",
	Summary:  "Langfuse's NEXTAUTH_URL must be the external URL its routes serve it at",
	Severity: rules.Warning,
	Rationale: "Langfuse signs users in with NextAuth, which builds its callback and redirect URLs from " +
		"NEXTAUTH_URL: it must be the URL users reach Langfuse at (protocol, host, port), and with a " +
		"base path the full `https://<host>/<base>/api/auth` (langfuse/langfuse v4.16.0 web/src/env.mjs, " +
		"its \"custom base path\" docs). Left at the chart's default http://localhost:3000 " +
		"(langfuse/langfuse-k8s langfuse.nextauth.url), or naming another host, sign-in redirects to " +
		"the wrong place and login fails. Checked on Langfuse web workloads (image langfuse/langfuse) " +
		"whose NEXTAUTH_URL is a literal value, against the hostnames and path prefixes of the " +
		"HTTPRoutes that send traffic to a Service selecting them; routes without hostnames are not " +
		"judged.",
	Kinds: rules.PodTemplateKinds,
	Check: checkNextAuthURL,
}

func checkNextAuthURL(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	for _, ctr := range t.Containers() {
		if ctr.Init || !langfuse.IsWebImage(ctr.Image) {
			continue
		}
		urls := servedURLs(c.Index, obj, t)
		if len(urls) == 0 {
			continue
		}
		env := kube.ContainerEnv(c.Index, obj.Namespace(), ctr)
		i := slices.IndexFunc(env, func(e kube.EnvVar) bool { return e.Name == "NEXTAUTH_URL" })
		if i < 0 {
			c.Reportf(ctr.Path, "Langfuse web container %q has no NEXTAUTH_URL, but HTTPRoutes serve it at %s, so sign-in redirects nowhere useful; set NEXTAUTH_URL to %s",
				ctr.Name, strings.Join(urls, ", "), want(urls[0]))
			continue
		}
		e := env[i]
		if e.Value == "" || strings.Contains(e.Value, "$(") {
			continue // from a Secret, or built from other variables
		}
		if matchesServed(e.Value, urls) {
			continue
		}
		c.Reportf(e.Path, "NEXTAUTH_URL%s is %q, but HTTPRoutes serve Langfuse at %s, so sign-in redirects to the wrong place and login fails; set it to %s",
			e.Origin, e.Value, strings.Join(urls, ", "), want(urls[0]))
	}
}

// servedURLs are the external URLs (host and path prefix) of the HTTPRoute
// rules that send traffic to a Service selecting the workload's pods.
func servedURLs(idx rules.Index, w *rules.Object, t *rules.PodTemplate) []string {
	var services []string
	for _, svc := range idx.List(rules.ServiceKind, w.Namespace()) {
		sel := rules.StringMap(rules.LookupMap(svc.Content, "spec", "selector"))
		if kube.Selects(sel, t.Meta.Labels) {
			services = append(services, svc.Namespace()+"/"+svc.Name())
		}
	}
	if len(services) == 0 {
		return nil
	}
	var out []string
	for _, route := range idx.List(gateway.HTTPRouteKind, "") {
		hosts := gateway.Hostnames(route)
		if len(hosts) == 0 {
			continue
		}
		for _, rule := range gateway.Rules(route) {
			to := slices.ContainsFunc(rule.Backends, func(b gateway.Ref) bool {
				return b.IsService() && slices.Contains(services, b.Namespace+"/"+b.Name)
			})
			if !to {
				continue
			}
			for _, h := range hosts {
				for _, p := range rule.Prefixes {
					if strings.HasPrefix(h, "*") {
						continue
					}
					base := strings.TrimSuffix(p, "/")
					if rule.Rewrite != nil && rule.Rewrite.Type == "ReplacePrefixMatch" && strings.TrimSuffix(rule.Rewrite.Value, "/") == "" {
						base = "" // stripped: langfuse-subpath-routes judges that
					}
					u := "https://" + strings.ToLower(h) + base
					if !slices.Contains(out, u) {
						out = append(out, u)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// matchesServed: NEXTAUTH_URL names a served host and, with a base path,
// that path (as .../<base>/api/auth or .../<base>).
func matchesServed(value string, urls []string) bool {
	u, err := url.Parse(strings.TrimSpace(value))
	if err != nil || u.Host == "" {
		return false
	}
	got := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/auth")
	for _, s := range urls {
		su, _ := url.Parse(s)
		if strings.EqualFold(su.Hostname(), u.Hostname()) && (su.Path == got || su.Path == "") {
			return true
		}
	}
	return false
}

func want(served string) string {
	if u, err := url.Parse(served); err == nil && u.Path != "" {
		return fmt.Sprintf("%q", served+"/api/auth")
	}
	return fmt.Sprintf("%q", served)
}
