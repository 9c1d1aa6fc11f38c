package bifrost

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// KnownProviders is the builtin list, the configured extras, and every
// provider declared in any Bifrost config in the index or in obj itself.
// The declarations are gathered from the index without the object under
// review (SharedOverBase), so that the webhook keeps them across requests
// even while configs are under review; what that object's stored version
// declares is left out, as the index shows its new version instead.
func KnownProviders(c *rules.Context, obj *rules.Object, extra []string) map[string]bool {
	declared := c.SharedOverBase("bifrost-declared-providers", ConfigKinds, func(idx rules.Index) any {
		by := map[string][]rules.ObjectRef{} // provider -> the configs declaring it
		for _, gk := range ConfigKinds {
			rules.Each(idx, gk, "", func(o *rules.Object) {
				set := map[string]bool{}
				addDeclaredProviders(set, o)
				for p := range set {
					by[p] = append(by[p], o.Ref())
				}
			})
		}
		return by
	}).(map[string][]rules.ObjectRef)
	known := make(map[string]bool, len(BuiltinProviders)+len(declared)+len(extra))
	for _, p := range BuiltinProviders {
		known[p] = true
	}
	reviewed := c.UnderReview()
	for p, refs := range declared {
		if reviewed == nil || len(refs) > 1 || refs[0] != reviewed.Ref() {
			known[p] = true
		}
	}
	for _, p := range extra {
		known[p] = true
	}
	addDeclaredProviders(known, obj)
	return known
}

func addDeclaredProviders(set map[string]bool, o *rules.Object) {
	for _, cfg := range Configs(o) {
		for name := range rules.LookupMap(cfg.Root(), "providers") {
			set[strings.ToLower(name)] = true // as Bifrost loads them
		}
	}
}

// WalkFallbacks calls fn for every string in a "fallbacks" list anywhere in
// a config; lists of objects carry provider and model apart and are fine.
func WalkFallbacks(v any, at rules.Path, fn func(rules.Path, string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if list, ok := x[k].([]any); ok && k == "fallbacks" {
				for i, e := range list {
					if s, ok := e.(string); ok {
						fn(at.Child(k, i), s)
					}
				}
				continue
			}
			WalkFallbacks(x[k], at.Child(k), fn)
		}
	case []any:
		for i, e := range x {
			WalkFallbacks(e, at.Child(i), fn)
		}
	}
}

// modelsNamedAfterProvider are providers whose own model names start with
// the provider name, so "mistral-large" is a model, not a typo for
// "mistral/large".
var modelsNamedAfterProvider = map[string]bool{"mistral": true, "gemini": true, "deepseek": true}

// modelFamilies guesses the provider for a bare model name.
var modelFamilies = []struct{ prefix, provider string }{
	{"gpt-", "openai"}, {"chatgpt", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"},
	{"text-embedding", "openai"}, {"claude", "anthropic"}, {"gemini", "gemini"},
	{"mistral", "mistral"}, {"mixtral", "mistral"}, {"codestral", "mistral"},
	{"command", "cohere"}, {"deepseek", "deepseek"}, {"grok", "xai"},
}

// ModelNameProblem says what is wrong with a model name and what to write
// instead; what is "" when Bifrost can route the name. Bifrost splits a
// model string at its first "/" only when what comes before is a known
// provider name, matched exactly (core/schemas/utils.go ParseModelString,
// v1.4.6 to v1.5.11 and later); custom providers count once declared.
func ModelNameProblem(name string, known map[string]bool) (what, fix string) {
	name = strings.TrimSpace(name)
	if name == "" || strings.Contains(name, "$(") || strings.HasPrefix(name, "env.") {
		return "", ""
	}
	if known[strings.ToLower(name)] {
		return fmt.Sprintf("%q names only a provider, not a model", name), strings.ToLower(name) + "/<model>"
	}
	if i := strings.Index(name, "/"); i >= 0 {
		prefix := name[:i]
		switch {
		case known[prefix]:
			return "", ""
		case known[strings.ToLower(prefix)]:
			return fmt.Sprintf("%q starts with %q, but Bifrost matches the provider prefix exactly and knows %q", name, prefix, strings.ToLower(prefix)),
				strings.ToLower(prefix) + name[i:]
		}
		return fmt.Sprintf("%q starts with %q, which is not a Bifrost provider", name, prefix), "openai/" + name
	}
	for _, p := range sortedByLength(known) {
		if strings.HasPrefix(name, p+"-") && !modelsNamedAfterProvider[p] {
			return fmt.Sprintf("%q joins provider and model with \"-\" where Bifrost needs \"/\"", name), p + "/" + name[len(p)+1:]
		}
	}
	provider := "openai" // a self-hosted vLLM behind Bifrost is an openai provider
	lower := strings.ToLower(name)
	for _, f := range modelFamilies {
		if strings.HasPrefix(lower, f.prefix) {
			provider = f.provider
			break
		}
	}
	return fmt.Sprintf("%q has no provider prefix", name), provider + "/" + name
}

func sortedByLength(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

func IsModelVar(name string) bool {
	return name == "MODEL" || strings.HasSuffix(name, "_MODEL") || strings.HasSuffix(name, "_MODEL_NAME") || strings.HasSuffix(name, "_MODEL_ID")
}

func IsBaseURLVar(name string) bool {
	return name == "OPENAI_BASE_URL" || name == "OPENAI_API_BASE" || strings.HasSuffix(name, "_BASE_URL") || strings.HasSuffix(name, "_API_BASE")
}

// PointsAtBifrost decides whether a base URL reaches Bifrost: its host's
// first label says bifrost, it is a configured Bifrost host, or it names a
// Service that selects Bifrost pods.
func PointsAtBifrost(c *rules.Context, ns, raw string, hosts []string) bool {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.Contains(raw, "$(") {
		return false
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if slices.Contains(hosts, host) || slices.Contains(hosts, strings.ToLower(u.Host)) {
		return true
	}
	labels := strings.Split(host, ".")
	if strings.Contains(labels[0], "bifrost") {
		return true
	}
	svcNS := ns
	switch {
	case len(labels) == 1:
	case len(labels) == 2, len(labels) >= 3 && labels[2] == "svc":
		svcNS = labels[1]
	default:
		return false // an external DNS name
	}
	return ServiceSelectsBifrost(c, svcNS, labels[0])
}

// serviceKinds are what ServiceSelectsBifrost reads.
var serviceKinds = append([]schema.GroupKind{rules.ServiceKind}, rules.PodTemplateKinds...)

// ServiceSelectsBifrost reports whether the Service ns/name selects the pod
// template of a workload running Bifrost. The fact is kept per namespace:
// a Service only selects pods of its own namespace, and recomputing it
// (under review, or after a workload changed anywhere) then reads one
// namespace rather than every Service and workload of the cluster.
func ServiceSelectsBifrost(c *rules.Context, ns, name string) bool {
	set := c.SharedOver("bifrost-services/"+ns, serviceKinds, func() any {
		set := map[string]bool{}
		for _, svc := range c.Index.List(rules.ServiceKind, ns) {
			sel := rules.StringMap(rules.LookupMap(svc.Content, "spec", "selector"))
			if len(sel) == 0 {
				continue
			}
			for _, gk := range rules.PodTemplateKinds {
				for _, w := range c.Index.List(gk, ns) {
					if t, err := w.PodTemplate(); err == nil && t != nil && kube.Selects(sel, t.Meta.Labels) && len(Containers(t)) > 0 {
						set[svc.Name()] = true
					}
				}
			}
		}
		return set
	}).(map[string]bool)
	return set[name]
}

// OpenAIRoute reports whether a base URL points at Bifrost's OpenAI-
// compatible integration route (/openai, as /openai/v1/chat/completions),
// which defaults a model without a provider prefix to the openai provider
// (maximhq/bifrost core/providers/openai/chat.go at v1.4.24 and v1.5.11),
// rather than at its own /v1 routes, which need provider/model.
func OpenAIRoute(raw string) bool {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	p := strings.TrimSuffix(u.Path, "/")
	return p == "/openai" || strings.HasPrefix(p, "/openai/")
}

// RoutedToBifrost: the URL reaches the gateway and the HTTPRoute rule that
// serves it forwards to a Service selecting Bifrost pods.
func RoutedToBifrost(c *rules.Context, ns, raw string) bool {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return false
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Path == "" {
		u.Path = "/"
	}
	rule := gateway.ServingRuleFor(c, ns, u)
	if rule == nil {
		return false
	}
	for _, b := range rule.Backends {
		if b.IsService() && ServiceSelectsBifrost(c, b.Namespace, b.Name) {
			return true
		}
	}
	return false
}
