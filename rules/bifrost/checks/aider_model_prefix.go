package checks

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aider"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// AiderModelPrefix checks the model names Aider sends through Bifrost.
var AiderModelPrefix = &rules.Rule{
	ID:       "aider-model-prefix",
	Summary:  "Aider pointed at Bifrost needs the double prefix openai/<provider>/<model>",
	Severity: rules.Warning,
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
	Kinds:   []schema.GroupKind{rules.ConfigMapKind, aider.ConfigKind},
	Options: func() any { return &aiderOptions{} },
	Check:   checkAiderModelPrefix,
}

// aiderOptions are the same as model-provider-prefix's: custom provider
// names and hosts that are Bifrost.
type aiderOptions struct {
	Providers    []string `json:"providers"`
	BifrostHosts []string `json:"bifrostHosts"`
}

func checkAiderModelPrefix(c *rules.Context, obj *rules.Object) {
	opts := c.Options.(*aiderOptions)
	configs := aider.Configs(obj)
	if len(configs) == 0 {
		return
	}
	known := bifrost.KnownProviders(c, obj, opts.Providers)
	for _, cfg := range configs {
		base, _ := cfg.Values["openai-api-base"].(string)
		if !bifrost.PointsAtBifrost(c, obj.Namespace(), base, opts.BifrostHosts) && !bifrost.RoutedToBifrost(c, obj.Namespace(), base) {
			continue
		}
		for _, key := range aider.ModelKeys {
			model, _ := cfg.Values[key].(string)
			model = strings.TrimSpace(model)
			if model == "" {
				continue
			}
			if msg := aiderModelProblem(key, model, known); msg != "" {
				c.Reportf(cfg.At(key), "%s", msg)
			}
		}
	}
}

// aiderModelProblem judges one model name Aider sends to Bifrost.
func aiderModelProblem(key, model string, known map[string]bool) string {
	sent, hasPrefix := strings.CutPrefix(model, "openai/")
	if !hasPrefix {
		fix := model
		if what, f := bifrost.ModelNameProblem(model, known); what != "" {
			fix = f
		}
		return fmt.Sprintf("Aider %s %q has no openai/ prefix, so LiteLLM does not send it to openai-api-base (Bifrost) at all; write %q",
			key, model, "openai/"+fix)
	}
	what, fix := bifrost.ModelNameProblem(sent, known)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("Aider %s %q reaches Bifrost as %q because LiteLLM strips the first openai/, and %s, so Bifrost cannot route it; write %q",
		key, model, sent, what, "openai/"+fix)
}
