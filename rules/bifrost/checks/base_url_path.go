package checks

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostBaseURLPath catches an OpenAI-compatible base_url that already
// ends in /v1.
var BifrostBaseURLPath = &rules.Rule{
	ID:       "bifrost-base-url-path",
	Summary:  "An OpenAI-compatible Bifrost provider's base_url must not end in /v1",
	Severity: rules.Error,
	Rationale: "Bifrost's openai and vllm providers (and custom providers built on openai) only strip a " +
		"trailing / from network_config.base_url and append the whole API path, /v1/chat/completions " +
		"and the rest (maximhq/bifrost core/providers/openai/openai.go and core/providers/vllm/vllm.go " +
		"at v1.5.11). A base_url that already ends in /v1, as OpenAI SDKs expect, makes Bifrost call " +
		"/v1/v1/chat/completions, which the server answers with 404 (issue #6562, open). Write the " +
		"server's root: `http://vllm.ai-inference:8000`. A custom provider with request_path_overrides " +
		"sets its own paths and is not judged.",
	Kinds: bifrost.ConfigKinds,
	Check: checkBaseURLPath,
}

// appendsV1 are the providers whose client appends /v1/... to base_url.
var appendsV1 = map[string]bool{"openai": true, "vllm": true}

func checkBaseURLPath(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		for _, pu := range cfg.ProviderURLs() {
			if pu.Path[len(pu.Path)-1] != "base_url" {
				continue
			}
			kind := strings.ToLower(pu.Provider)
			if pu.Custom != nil {
				if _, overrides := pu.Custom["request_path_overrides"]; overrides {
					continue
				}
				kind = rules.LookupString(pu.Custom, "base_provider_type")
			}
			if !appendsV1[kind] {
				continue
			}
			raw := strings.TrimSpace(pu.URL)
			u, err := url.Parse(raw)
			if err != nil || !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v1") {
				continue
			}
			fixed := *u
			fixed.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
			fixed.User, fixed.RawQuery = nil, ""
			c.ReportIn(cfg.JSONDoc, pu.Path, rules.Finding{Message: fmt.Sprintf(
				"provider %q has a base_url ending in /v1, and Bifrost appends /v1/chat/completions itself, so it calls .../v1/v1/chat/completions and gets 404; write %q",
				pu.Provider, fixed.String())})
		}
	}
}
