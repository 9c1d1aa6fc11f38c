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
	Rationale: "Aider hands the model name to LiteLLM, which strips one leading known-provider prefix " +
		"and uses `openai/` to pick its OpenAI-compatible client, the one that talks to " +
		"`openai-api-base` (BerriAI/litellm get_llm_provider_logic.py). Bifrost's own routes then need " +
		"`provider/model` in what is left, so through Bifrost Aider's model must be " +
		"`openai/openai/glm-5` (the runbook's double prefix): `openai/glm-5` reaches Bifrost as `glm-5`, " +
		"which only Bifrost v1.5.0 and later can resolve, through their model catalog, and only when a " +
		"configured provider serves it. A name without `openai/` goes elsewhere: LiteLLM sends a bare " +
		"OpenAI model name (gpt-4o) to openai-api-base unprefixed, and any other name to the provider " +
		"its prefix names, or fails. Pointed at Bifrost's OpenAI-compatible route (`/openai`), which " +
		"gives unprefixed names to the openai provider, one `openai/` is enough. Checked: `model`, " +
		"`weak-model` and `editor-model` in `.aider.conf.yml` files and ConfigMap keys named " +
		"`.aider.conf.yml`, when `openai-api-base` points at Bifrost: a host whose first label " +
		"contains bifrost, a Service selecting Bifrost pods, an HTTPRoute that sends the URL to such a " +
		"Service, or a host in option `bifrostHosts`. Option `providers` adds custom provider names.",
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
			if msg := aiderModelProblem(key, model, known, bifrost.OpenAIRoute(base)); msg != "" {
				c.Reportf(cfg.At(key), "%s", msg)
			}
		}
	}
}

// aiderModelProblem judges one model name Aider sends to Bifrost; through
// the /openai route one openai/ prefix is enough.
func aiderModelProblem(key, model string, known map[string]bool, openAIRoute bool) string {
	sent, hasPrefix := strings.CutPrefix(model, "openai/")
	if !hasPrefix {
		fix := model
		if what, f := bifrost.ModelNameProblem(model, known); what != "" && !openAIRoute {
			fix = f
		}
		where := "does not send it to openai-api-base (Bifrost) at all"
		if isOpenAIModelName(model) {
			where = fmt.Sprintf("sends it to openai-api-base as plain %q, without the provider Bifrost routes by", model)
		}
		return fmt.Sprintf("Aider %s %q has no openai/ prefix, so LiteLLM %s; write %q", key, model, where, "openai/"+fix)
	}
	if openAIRoute {
		return ""
	}
	what, fix := bifrost.ModelNameProblem(sent, known)
	if what == "" {
		return ""
	}
	return fmt.Sprintf("Aider %s %q reaches Bifrost as %q because LiteLLM strips the first openai/, and %s, so only Bifrost v1.5.0 and later route it, and only if their model catalog resolves it; write %q",
		key, model, sent, what, "openai/"+fix)
}

// isOpenAIModelName: names LiteLLM knows as OpenAI's own models.
func isOpenAIModelName(model string) bool {
	m := strings.ToLower(model)
	for _, p := range []string{"gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}
