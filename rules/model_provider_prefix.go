package rules

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// BuiltinProviders are the provider names Bifrost knows without a
// custom_provider_config.
var BuiltinProviders = []string{
	"openai", "anthropic", "bedrock", "cohere", "azure", "vertex", "mistral", "ollama",
	"groq", "gemini", "openrouter", "sgl", "parasail", "perplexity", "replicate", "elevenlabs",
	"cerebras", "deepseek", "vllm", "huggingface", "fireworks", "nebius", "xai",
}

// ModelProviderPrefix checks model names on their way to Bifrost.
var ModelProviderPrefix = &Rule{
	ID:       "model-provider-prefix",
	Summary:  "Model names sent to Bifrost must be provider/model with a known provider",
	Severity: Error,
	Rationale: "Bifrost routes a request by the provider before the first `/` of the model name " +
		"(`openai/glm-5`; a self-hosted vLLM is reached through `openai`). A name without a known " +
		"provider (`gpt-4o`, `openai-gpt-4o`, `meta-llama/Llama-3.1-8B`) is rejected, and in a " +
		"`fallbacks` list it is silently dropped. Checked: `fallbacks` lists in Bifrost configs, and " +
		"MODEL, *_MODEL, *_MODEL_NAME, *_MODEL_ID env vars of containers whose OpenAI base URL points " +
		"at Bifrost. Names sent straight to vLLM are not checked. Options: `providers` (extra custom " +
		"provider names), `bifrostHosts` (hosts that are Bifrost).",
	Kinds:   append(slices.Clone(bifrostConfigKinds), PodTemplateKinds...),
	Options: func() any { return &modelOptions{} },
	Check:   checkModelProviderPrefix,
}

type modelOptions struct {
	Providers    []string `json:"providers"`
	BifrostHosts []string `json:"bifrostHosts"`
}

func checkModelProviderPrefix(c *Context, obj *Object) {
	opts := c.Options.(*modelOptions)
	// Only when there is a name to judge: the set reads every Bifrost config
	// in the index, and for a ConfigMap under admission review that is done
	// per request (it cannot be kept: the review may change the set).
	known := sync.OnceValue(func() map[string]bool { return knownProviders(c, obj, opts) })
	for _, cfg := range obj.BifrostConfigs() {
		walkFallbacks(cfg.Doc, nil, func(at Path, name string) {
			if what, fix := modelNameProblem(name, known()); what != "" {
				c.ReportConfig(cfg, at, Finding{Message: fmt.Sprintf("fallback %s, so Bifrost silently drops it from the list; write %q", what, fix)})
			}
		})
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	for _, ctr := range t.Containers() {
		env := containerEnv(c.Index, obj.Namespace(), ctr)
		target := ""
		for _, e := range env {
			if isBaseURLVar(e.name) && pointsAtBifrost(c, obj.Namespace(), e.value, opts) {
				target = e.name
				break
			}
		}
		if target == "" {
			continue
		}
		for _, e := range env {
			if !isModelVar(e.name) {
				continue
			}
			if what, fix := modelNameProblem(e.value, known()); what != "" {
				c.Reportf(e.path, "container %q sends %s%s to Bifrost (%s points there): %s, so Bifrost cannot route it; write %q",
					ctr.Name, e.name, e.origin, target, what, fix)
			}
		}
	}
}

// knownProviders is the builtin list, the configured extras, and every
// provider declared in any Bifrost config in the index or in obj itself.
func knownProviders(c *Context, obj *Object, opts *modelOptions) map[string]bool {
	declared := c.SharedOver("bifrost-declared-providers", bifrostConfigKinds, func() any {
		set := map[string]bool{}
		for _, gk := range bifrostConfigKinds {
			for _, o := range c.Index.List(gk, "") {
				addDeclaredProviders(set, o)
			}
		}
		return set
	}).(map[string]bool)
	known := make(map[string]bool, len(BuiltinProviders)+len(declared)+len(opts.Providers))
	for _, p := range BuiltinProviders {
		known[p] = true
	}
	for p := range declared {
		known[p] = true
	}
	for _, p := range opts.Providers {
		known[p] = true
	}
	addDeclaredProviders(known, obj)
	return known
}

func addDeclaredProviders(set map[string]bool, o *Object) {
	for _, cfg := range o.BifrostConfigs() {
		for name := range LookupMap(cfg.Root(), "providers") {
			set[name] = true
		}
	}
}

// walkFallbacks calls fn for every string in a "fallbacks" list anywhere in
// a config; lists of objects carry provider and model apart and are fine.
func walkFallbacks(v any, at Path, fn func(Path, string)) {
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
			walkFallbacks(x[k], at.Child(k), fn)
		}
	case []any:
		for i, e := range x {
			walkFallbacks(e, at.Child(i), fn)
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

// modelNameProblem says what is wrong with a model name and what to write
// instead; what is "" when Bifrost can route the name.
func modelNameProblem(name string, known map[string]bool) (what, fix string) {
	name = strings.TrimSpace(name)
	if name == "" || strings.Contains(name, "$(") || strings.HasPrefix(name, "env.") {
		return "", ""
	}
	if i := strings.Index(name, "/"); i >= 0 {
		prefix := name[:i]
		if known[prefix] {
			return "", ""
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

func isModelVar(name string) bool {
	return name == "MODEL" || strings.HasSuffix(name, "_MODEL") || strings.HasSuffix(name, "_MODEL_NAME") || strings.HasSuffix(name, "_MODEL_ID")
}

func isBaseURLVar(name string) bool {
	return name == "OPENAI_BASE_URL" || name == "OPENAI_API_BASE" || strings.HasSuffix(name, "_BASE_URL") || strings.HasSuffix(name, "_API_BASE")
}

// envValue is one environment variable a container sees, with where it was
// set and, for values read from a ConfigMap, a note saying which.
type envValue struct {
	name, value, origin string
	path                Path
}

// containerEnv resolves a container's environment as far as the manifests
// show it: literal values, ConfigMap keys and envFrom ConfigMaps found in
// the index. Later entries win, as in the kubelet.
func containerEnv(idx Index, ns string, ctr ContainerAt) []envValue {
	byName := map[string]int{}
	var out []envValue
	set := func(e envValue) {
		if i, ok := byName[e.name]; ok {
			out[i] = e
			return
		}
		byName[e.name] = len(out)
		out = append(out, e)
	}
	for i, ef := range ctr.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		cm := idx.Get(ConfigMapKind, ns, ef.ConfigMapRef.Name)
		if cm == nil {
			continue
		}
		data := LookupMap(cm.Content, "data")
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if s, ok := data[k].(string); ok {
				set(envValue{name: ef.Prefix + k, value: s, path: ctr.Path.Child("envFrom", i),
					origin: fmt.Sprintf(" (from ConfigMap %s)", ef.ConfigMapRef.Name)})
			}
		}
	}
	for i, e := range ctr.Env {
		ev := envValue{name: e.Name, value: e.Value, path: ctr.Path.Child("env", i, "value")}
		if e.ValueFrom != nil {
			ev.path = ctr.Path.Child("env", i)
			ev.value = ""
			if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
				ev.value = configMapKey(idx, ns, ref)
				ev.origin = fmt.Sprintf(" (from ConfigMap %s key %s)", ref.Name, ref.Key)
			}
		}
		set(ev)
	}
	return out
}

func configMapKey(idx Index, ns string, ref *corev1.ConfigMapKeySelector) string {
	cm := idx.Get(ConfigMapKind, ns, ref.Name)
	if cm == nil {
		return ""
	}
	return LookupString(cm.Content, "data", ref.Key)
}

// pointsAtBifrost decides whether a base URL reaches Bifrost: its host's
// first label says bifrost, it is a configured Bifrost host, or it names a
// Service that selects Bifrost pods.
func pointsAtBifrost(c *Context, ns, raw string, opts *modelOptions) bool {
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
	if slices.Contains(opts.BifrostHosts, host) || slices.Contains(opts.BifrostHosts, strings.ToLower(u.Host)) {
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
	return bifrostServices(c)[svcNS+"/"+labels[0]]
}

// bifrostServiceKinds are what bifrostServices reads.
var bifrostServiceKinds = append([]schema.GroupKind{ServiceKind}, PodTemplateKinds...)

// bifrostServices is the set of Services (ns/name) whose selector matches
// the pod template of a workload running Bifrost, computed once per run.
func bifrostServices(c *Context) map[string]bool {
	return c.SharedOver("bifrost-services", bifrostServiceKinds, func() any {
		set := map[string]bool{}
		for _, svc := range c.Index.List(ServiceKind, "") {
			sel := stringMap(LookupMap(svc.Content, "spec", "selector"))
			if len(sel) == 0 {
				continue
			}
			for _, gk := range PodTemplateKinds {
				for _, w := range c.Index.List(gk, svc.Namespace()) {
					if t, err := w.PodTemplate(); err == nil && t != nil && selects(sel, t.Meta.Labels) && len(t.BifrostContainers()) > 0 {
						set[svc.Namespace()+"/"+svc.Name()] = true
					}
				}
			}
		}
		return set
	}).(map[string]bool)
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
