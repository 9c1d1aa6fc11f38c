package checks

import (
	"fmt"
	"slices"
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
		"(`openai/glm-5`; a self-hosted vLLM is reached through `openai`). A name without a known " +
		"provider (`gpt-4o`, `openai-gpt-4o`, `meta-llama/Llama-3.1-8B`) is rejected, and in a " +
		"`fallbacks` list it is silently dropped. Checked: `fallbacks` lists in Bifrost configs, and " +
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
				c.ReportIn(cfg.JSONDoc, at, rules.Finding{Message: fmt.Sprintf("fallback %s, so Bifrost silently drops it from the list; write %q", what, fix)})
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
				c.Reportf(e.Path, "container %q sends %s%s to Bifrost (%s points there): %s, so Bifrost cannot route it; write %q",
					ctr.Name, e.Name, e.Origin, target, what, fix)
			}
		}
	}
}
