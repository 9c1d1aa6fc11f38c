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
	Rationale: "Bifrost picks, among a provider's enabled keys that allow the request's model, one at " +
		"random weighted by `weight` (maximhq/bifrost core/bifrost.go and core/keyselectors at v1.5.11). " +
		"Which models a key allows changed in v1.5.0: with config `version` 2 (the default from " +
		"v1.5.0) `models: []`, or no `models` at all, allows no model, and `[\"*\"]` allows all " +
		"(core/schemas/account.go WhiteList); up to v1.4.x an empty or missing list allowed all and " +
		"`[\"*\"]` matched only a model named \"*\" (`version: 1` keeps the old reading). So a key " +
		"that allows nothing leaves requests for its models failing with \"no keys found\" although " +
		"the config loads. Where a workload visibly runs a Bifrost image older than v1.5.0 with the " +
		"config, the old reading is used. From v1.5.0 every standard provider needs a key entry (only " +
		"its value may be empty for vllm, ollama, sgl, azure, vertex and bedrock); up to v1.4.x ollama " +
		"and sgl needed none, so those two are only reported where the image is known to be v1.5.0 or " +
		"newer. A key of weight 0 is still used when it is the only one that fits, or when all weights " +
		"are 0; next to positively weighted keys it is only tried after they fail (reported as info). " +
		"Provider names are lower-cased when loaded, so \"OpenAI\" is openai. A name that is neither a " +
		"standard provider (core/schemas/bifrost.go StandardProviders; the list in gjallar is from " +
		"v2.2.x) nor declares `custom_provider_config` is not a provider Bifrost can call, and a custom " +
		"provider's `base_provider_type` must be one Bifrost supports as a base: anthropic, bedrock, " +
		"cohere, gemini, openai, huggingface, replicate or typesafe (SupportedBaseProviders); a " +
		"self-hosted vLLM is usually reached as `openai`.",
	Kinds: bifrost.ConfigKinds,
	Check: checkBifrostKeys,
}

func checkBifrostKeys(c *rules.Context, obj *rules.Object) {
	readers := bifrost.Readers(c, obj)
	for _, cfg := range bifrost.Configs(obj) {
		root := cfg.Root()
		providers := rules.LookupMap(root, "providers")
		version, _ := rules.AsInt(root["version"])
		// Whether an empty or missing models list allows nothing: config
		// version 2, or a reader known to be v1.5.0 or newer, says so;
		// version 1 or readers all older say not; otherwise it depends on
		// a release gjallar cannot see.
		reading := unknownReading
		switch {
		case version == 1 || bifrost.AllBefore(readers, "1.5.0"):
			reading = allowsAll
		case version == 2 || bifrost.AnyAtLeast(readers, "1.5.0"):
			reading = allowsNothing
		}
		var undecided []string
		var undecidedAt rules.Path
		for _, name := range slices.Sorted(maps.Keys(providers)) {
			prov, ok := providers[name].(map[string]any)
			if !ok {
				continue // the schema rule reports it
			}
			at := rules.P("providers", name)
			report := func(f rules.Finding) { c.ReportIn(cfg.JSONDoc, f.Path, f) }
			custom, isCustom := prov["custom_provider_config"].(map[string]any)
			std, builtin := bifrost.LookupProvider(name)
			switch {
			case !builtin && !isCustom:
				report(rules.Finding{Path: at, Message: fmt.Sprintf(
					"provider %q is neither a standard Bifrost provider nor declares custom_provider_config, so Bifrost cannot call it; use a standard name (openai reaches a self-hosted vLLM) or add \"custom_provider_config\": {\"base_provider_type\": \"openai\"}", name)})
			case builtin && std.Since != "" && bifrost.AllBefore(readers, std.Since):
				report(rules.Finding{Path: at, Message: fmt.Sprintf(
					"provider %q came with Bifrost v%s, but the image reading this config is older, so Bifrost does not know it; upgrade the image or declare it with custom_provider_config", name, std.Since)})
			case isCustom:
				if base := rules.LookupString(custom, "base_provider_type"); base != "" && !slices.Contains(bifrost.BaseProviderTypes, base) {
					report(rules.Finding{Path: at.Child("custom_provider_config", "base_provider_type"), Message: fmt.Sprintf(
						"custom provider %q has base_provider_type %q, which Bifrost does not support as a base (%s), so it rejects the provider; for an OpenAI-compatible server write \"openai\"",
						name, base, strings.Join(bifrost.BaseProviderTypes, ", "))})
				}
			}
			keys, _ := prov["keys"].([]any)
			keyless := custom["is_key_less"] == true ||
				(slices.Contains(bifrost.KeylessBefore150, strings.ToLower(name)) && !bifrost.AnyAtLeast(readers, "1.5.0"))
			if len(keys) == 0 && !keyless {
				report(rules.Finding{Path: at, Message: fmt.Sprintf(
					"provider %q has no keys, so Bifrost has nothing to call it with and every request for its models fails (\"no keys found\"); add a key with name, value (env.VAR for a secret), weight and models", name)})
			}
			positive := false
			for _, k := range keys {
				if key, ok := k.(map[string]any); ok && key["enabled"] != false {
					w, _ := rules.AsFloat(key["weight"])
					positive = positive || w > 0
				}
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
				models, present := key["models"]
				list, isList := models.([]any)
				noModels := !present || (isList && len(list) == 0)
				switch {
				case reading == allowsAll || !noModels:
				case reading == unknownReading:
					if undecided == nil {
						undecidedAt = kat
					}
					undecided = append(undecided, label)
				case present:
					report(rules.Finding{Path: kat.Child("models"), Message: fmt.Sprintf(
						"%s has models: [], which from Bifrost v1.5.0 (config version 2, the default) allows no model, so no request can use it; list its models (or [\"*\"] for all on v1.5.0 and later)", label)})
				default:
					report(rules.Finding{Path: kat, Message: fmt.Sprintf(
						"%s lists no models, which from Bifrost v1.5.0 (config version 2, the default) allows no model, so no request can use it; add \"models\" with its models (or [\"*\"] for all on v1.5.0 and later)", label)})
				}
				if w, ok := rules.AsFloat(key["weight"]); ok && w == 0 && positive {
					report(rules.Finding{Severity: rules.Info, Path: kat.Child("weight"), Message: fmt.Sprintf(
						"%s has weight %s next to keys with a positive weight, so Bifrost only tries it after they fail; give it a weight to share the load, or enabled: false to stop using it", label, rules.DescribeJSON(key["weight"]))})
				}
			}
		}
		if len(undecided) > 0 {
			c.ReportIn(cfg.JSONDoc, undecidedAt, rules.Finding{Severity: rules.Info, Message: fmt.Sprintf(
				"cannot judge without the Bifrost release: no models listed (missing or []) for %s, which allows every model up to v1.4.x but none from v1.5.0 (config version 2, the default); if this config runs on v1.5.0 or later, list the models (or [\"*\"]), or set \"version\": 1",
				countedList(undecided))})
		}
	}
}

// How a config's empty or missing models lists read.
const (
	unknownReading = iota
	allowsAll
	allowsNothing
)

// countedList names up to three items and counts the rest.
func countedList(items []string) string {
	if len(items) <= 3 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more keys", strings.Join(items[:3], ", "), len(items)-3)
}
