package checks

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// ModelProviderPrefix checks model names on their way to Bifrost.
var ModelProviderPrefix = &rules.Rule{
	ID:       "model-provider-prefix",
	Summary:  "Model names sent to Bifrost must be provider/model with a known provider",
	Severity: rules.Error,
	Rationale: "Bifrost routes a request by the provider before the first `/` of the model name " +
		"(`openai/glm-5`; a self-hosted vLLM is reached through `openai`), and splits there only when " +
		"that prefix is a known provider, matched exactly (maximhq/bifrost core/schemas/utils.go " +
		"ParseModelString, v1.4.6 to v1.5.11). In a `fallbacks` list an entry without a known provider " +
		"prefix is dropped silently (transports/bifrost-http/handlers/inference.go, " +
		"plugins/governance/main.go at v1.5.11; in routing rules `\"openai/\"` keeps the request's " +
		"model): an error. A request's own model without a prefix was rejected with 400 up to v1.4.x; " +
		"from v1.5.0 Bifrost resolves it through its model catalog, which holds the models its " +
		"configured providers list, and fails only when none serves it (lib/config.go, " +
		"framework/modelcatalog at v1.5.11): so names sent by clients are a warning. Bifrost's " +
		"OpenAI-compatible route (`/openai/...`) sends unprefixed names to the openai provider, so " +
		"clients pointed there are not checked. Checked: `fallbacks` lists in Bifrost configs, and " +
		"MODEL, *_MODEL, *_MODEL_NAME, *_MODEL_ID env vars of containers whose OpenAI base URL points " +
		"at Bifrost. Names sent straight to vLLM are not checked. Options: `providers` (extra custom " +
		"provider names), `bifrostHosts` (hosts that are Bifrost).",
	Kinds:   append(slices.Clone(bifrost.ConfigKinds), rules.PodTemplateKinds...),
	Options: func() any { return &modelOptions{} },
	Check:   checkModelProviderPrefix,
}

type modelOptions struct {
	Providers    []string `json:"providers"`
	BifrostHosts []string `json:"bifrostHosts"`
}

func checkModelProviderPrefix(c *rules.Context, obj *rules.Object) {
	opts := c.Options.(*modelOptions)
	// Only when there is a name to judge: the set reads every Bifrost config
	// in the index, and for a ConfigMap under admission review that is done
	// per request (it cannot be kept: the review may change the set).
	known := sync.OnceValue(func() map[string]bool { return bifrost.KnownProviders(c, obj, opts.Providers) })
	for _, cfg := range bifrost.Configs(obj) {
		bifrost.WalkFallbacks(cfg.Doc, nil, func(at rules.Path, name string) {
			if what, fix := bifrost.ModelNameProblem(name, known()); what != "" {
				hint := ""
				if strings.HasSuffix(fix, "/<model>") && slices.Contains(at, "routing_rules") {
					hint = fmt.Sprintf(" (or %q to keep the request's model)", strings.TrimSuffix(fix, "<model>"))
				}
				c.ReportIn(cfg.JSONDoc, at, rules.Finding{Message: fmt.Sprintf("fallback %s, so Bifrost silently drops it from the list; write %q%s", what, fix, hint)})
			}
		})
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	for _, ctr := range t.Containers() {
		env := kube.ContainerEnv(c.Index, obj.Namespace(), ctr)
		target := ""
		for _, e := range env {
			if bifrost.IsBaseURLVar(e.Name) && bifrost.PointsAtBifrost(c, obj.Namespace(), e.Value, opts.BifrostHosts) {
				target = e.Name
				if bifrost.OpenAIRoute(e.Value) {
					target = "" // the /openai route defaults unprefixed names to openai
				}
				break
			}
		}
		if target == "" {
			continue
		}
		for _, e := range env {
			if !bifrost.IsModelVar(e.Name) {
				continue
			}
			if what, fix := bifrost.ModelNameProblem(e.Value, known()); what != "" {
				c.Report(rules.Finding{Severity: rules.Warning, Path: e.Path, Message: fmt.Sprintf(
					"container %q sends %s%s to Bifrost (%s points there): %s; Bifrost v1.5.0 and later resolve such a name through their model catalog only when a configured provider serves it, and older versions reject it, so write %q to route it for sure",
					ctr.Name, e.Name, e.Origin, target, what, fix)})
			}
		}
	}
}
