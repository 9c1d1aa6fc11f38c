package rules

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AiderModelPrefix checks the model names Aider sends through Bifrost.
var AiderModelPrefix = &Rule{
	ID:       "aider-model-prefix",
	Summary:  "Aider pointed at Bifrost needs the double prefix openai/<provider>/<model>",
	Severity: Warning,
	Rationale: "Aider hands the model name to LiteLLM, which uses the first `openai/` to pick its " +
		"OpenAI-compatible client (the one that talks to `openai-api-base`) and strips it. Bifrost then " +
		"needs `provider/model` in what is left, so through Bifrost Aider's model must be " +
		"`openai/openai/glm-5` (the runbook's double prefix): `openai/glm-5` reaches Bifrost as " +
		"`glm-5`, which it cannot route, and a name without `openai/` never reaches Bifrost at all. " +
		"Checked: `model`, `weak-model` and `editor-model` in `.aider.conf.yml` files and ConfigMap " +
		"keys named `.aider.conf.yml`, when `openai-api-base` points at Bifrost: a host whose first " +
		"label contains bifrost, a Service selecting Bifrost pods, an HTTPRoute that sends the URL to " +
		"such a Service, or a host in option `bifrostHosts`. Option `providers` adds custom provider " +
		"names.",
	Kinds:   []schema.GroupKind{ConfigMapKind, AiderConfigKind},
	Options: func() any { return &modelOptions{} },
	Check:   checkAiderModelPrefix,
}

// aiderModelKeys are the config keys that name a model.
var aiderModelKeys = []string{"model", "weak-model", "editor-model"}

// aiderConfig is one Aider config found in an object.
type aiderConfig struct {
	values map[string]any
	// at returns where a key's finding points: the key itself in a
	// standalone file, the ConfigMap key holding the YAML otherwise.
	at func(key string) Path
}

func aiderConfigs(obj *Object) []aiderConfig {
	if obj.GroupKind() == AiderConfigKind {
		return []aiderConfig{{values: obj.Content, at: func(key string) Path { return P(key) }}}
	}
	var out []aiderConfig
	data := LookupMap(obj.Content, "data")
	for _, key := range slices.Sorted(maps.Keys(data)) {
		text, ok := data[key].(string)
		if !ok || path.Base(key) != AiderConfigFileName {
			continue
		}
		var values map[string]any
		if err := yaml.Unmarshal([]byte(text), &values); err != nil || values == nil {
			continue
		}
		at := P("data", key)
		out = append(out, aiderConfig{values: values, at: func(string) Path { return at }})
	}
	return out
}

func checkAiderModelPrefix(c *Context, obj *Object) {
	opts := c.Options.(*modelOptions)
	configs := aiderConfigs(obj)
	if len(configs) == 0 {
		return
	}
	known := knownProviders(c, obj, opts)
	for _, cfg := range configs {
		base, _ := cfg.values["openai-api-base"].(string)
		if !pointsAtBifrost(c, obj.Namespace(), base, opts) && !routedToBifrost(c, obj.Namespace(), base) {
			continue
		}
		for _, key := range aiderModelKeys {
			model, _ := cfg.values[key].(string)
			model = strings.TrimSpace(model)
			if model == "" {
				continue
			}
			if msg := aiderModelProblem(key, model, known); msg != "" {
				c.Reportf(cfg.at(key), "%s", msg)
			}
		}
	}
}

// aiderModelProblem judges one model name Aider sends to Bifrost.
func aiderModelProblem(key, model string, known map[string]bool) string {
	sent, hasPrefix := strings.CutPrefix(model, "openai/")
	if !hasPrefix {
		fix := model
		if what, f := modelNameProblem(model, known); what != "" {
			fix = f
		}
		return fmt.Sprintf("Aider %s %q has no openai/ prefix, so LiteLLM does not send it to openai-api-base (Bifrost) at all; write %q",
			key, model, "openai/"+fix)
	}
	what, fix := modelNameProblem(sent, known)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("Aider %s %q reaches Bifrost as %q because LiteLLM strips the first openai/, and %s, so Bifrost cannot route it; write %q",
		key, model, sent, what, "openai/"+fix)
}

// routedToBifrost: the URL reaches the gateway and the HTTPRoute rule that
// serves it forwards to a Service selecting Bifrost pods.
func routedToBifrost(c *Context, ns, raw string) bool {
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
	rule := servingRuleFor(c, ns, u)
	if rule == nil {
		return false
	}
	services := bifrostServices(c)
	for _, b := range rule.backends {
		if b.isService() && services[b.Namespace+"/"+b.Name] {
			return true
		}
	}
	return false
}
