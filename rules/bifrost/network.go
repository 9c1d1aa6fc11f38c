package bifrost

import (
	"maps"
	"slices"

	"github.com/gjallar-dev/gjallar/rules"
)

// ProviderURL is a URL Bifrost dials for a provider: its
// network_config.base_url, or a key's url in a vllm/ollama/sgl key config.
type ProviderURL struct {
	Provider string
	URL      string
	Path     rules.Path // inside the config
	// AllowPrivate is the provider's network_config.allow_private_network.
	AllowPrivate bool
	// Proxied is set when a proxy supplies the dialer, which then skips
	// the private-address check.
	Proxied bool
	// Custom is the provider's custom_provider_config, or nil.
	Custom map[string]any
}

// ProviderURLs lists the URLs the config's providers dial.
func (c *Config) ProviderURLs() []ProviderURL {
	root := c.Root()
	proxied := rules.LookupString(root, "proxy_config", "url") != "" && rules.LookupMap(root, "proxy_config")["enabled"] != false
	providers := rules.LookupMap(root, "providers")
	var out []ProviderURL
	for _, name := range slices.Sorted(maps.Keys(providers)) {
		prov, ok := providers[name].(map[string]any)
		if !ok {
			continue
		}
		nc := rules.LookupMap(prov, "network_config")
		base := ProviderURL{
			Provider:     name,
			AllowPrivate: nc["allow_private_network"] == true,
			Proxied:      proxied || rules.LookupString(prov, "proxy_config", "url") != "",
		}
		base.Custom, _ = prov["custom_provider_config"].(map[string]any)
		if u, ok := nc["base_url"].(string); ok && u != "" {
			p := base
			p.URL, p.Path = u, rules.P("providers", name, "network_config", "base_url")
			out = append(out, p)
		}
		for i, k := range rules.LookupList(prov, "keys") {
			for _, section := range []string{"vllm_key_config", "ollama_key_config", "sgl_key_config"} {
				if u := rules.LookupString(k, section, "url"); u != "" {
					p := base
					p.URL, p.Path = u, rules.P("providers", name, "keys", i, section, "url")
					out = append(out, p)
				}
			}
		}
	}
	return out
}
