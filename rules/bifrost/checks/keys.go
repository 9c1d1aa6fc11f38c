package checks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostKeys catches provider and key settings that leave Bifrost unable to
// serve a model while the config still loads.
var BifrostKeys = &rules.Rule{
	ID:       "bifrost-keys",
	Summary:  "Bifrost providers must be known and have keys that can serve models",
	Severity: rules.Warning,
	Rationale: "Bifrost picks a key of the request's provider that allows the model, weighted by `weight`. " +
		"A key with `models: []` allows nothing in config version 2 (the default; `[\"*\"]` allows " +
		"all), a key whose weight is 0 or less is never picked, and a provider without keys has " +
		"nothing to call with (ollama, sgl and custom providers with `is_key_less` excepted): requests " +
		"for its models fail although the config loads. A provider name that is neither built in " +
		"(openai, anthropic, ..., vllm) nor declared with `custom_provider_config` (whose " +
		"`base_provider_type` is a built-in provider) is not a provider Bifrost can call; a " +
		"self-hosted vLLM is usually reached as `openai`.",
	Kinds: bifrost.ConfigKinds,
	Check: checkBifrostKeys,
}

func checkBifrostKeys(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		root := cfg.Root()
		providers := rules.LookupMap(root, "providers")
		version, _ := rules.AsInt(root["version"])
		for _, name := range slices.Sorted(maps.Keys(providers)) {
			prov, ok := providers[name].(map[string]any)
			if !ok {
				continue // the schema rule reports it
			}
			at := rules.P("providers", name)
			report := func(p rules.Path, format string, args ...any) {
				c.ReportIn(cfg.JSONDoc, p, rules.Finding{Message: fmt.Sprintf(format, args...)})
			}
			custom, isCustom := prov["custom_provider_config"].(map[string]any)
			builtin := slices.Contains(bifrost.BuiltinProviders, name)
			switch {
			case !builtin && !isCustom:
				report(at, "provider %q is neither a Bifrost built-in provider nor declares custom_provider_config, so Bifrost cannot call it; %s", name, unknownProviderFix(name))
			case isCustom:
				if base := rules.LookupString(custom, "base_provider_type"); base != "" && !slices.Contains(bifrost.BuiltinProviders, base) {
					report(at.Child("custom_provider_config", "base_provider_type"),
						"custom provider %q speaks the API of %q, which is not a built-in provider, so Bifrost cannot call it; set base_provider_type to one (openai for an OpenAI-compatible server)", name, base)
				}
			}
			keys, _ := prov["keys"].([]any)
			keyless := name == "ollama" || name == "sgl" || custom["is_key_less"] == true
			if len(keys) == 0 && !keyless {
				report(at, "provider %q has no keys, so Bifrost has nothing to call it with and every request for its models fails; add a key with name, value (env.VAR for a secret), weight and models", name)
			}
			for i, k := range keys {
				key, ok := k.(map[string]any)
				if !ok || key["enabled"] == false {
					continue
				}
				kat := at.Child("keys", i)
				label := fmt.Sprintf("key %d of provider %q", i, name)
				if n := rules.LookupString(key, "name"); n != "" {
					label = fmt.Sprintf("key %q of provider %q", n, name)
				}
				if models, ok := key["models"].([]any); ok && len(models) == 0 && version != 1 {
					report(kat.Child("models"), "%s has models: [], which allows no model at all (config version 2), so no request can use it; list its models, or [\"*\"] for all", label)
				}
				if w, ok := rules.AsFloat(key["weight"]); ok && w <= 0 {
					report(kat.Child("weight"), "%s has weight %s, so Bifrost never picks it; give it a positive weight such as 1.0", label, rules.DescribeJSON(key["weight"]))
				}
			}
		}
	}
}

func unknownProviderFix(name string) string {
	lower := strings.ToLower(name)
	if slices.Contains(bifrost.BuiltinProviders, lower) {
		return fmt.Sprintf("provider names are lower case: write %q", lower)
	}
	return "use a built-in name (openai reaches a self-hosted vLLM) or add \"custom_provider_config\": {\"base_provider_type\": \"openai\"}"
}
