package bifrost

import (
	"slices"
	"strings"
)

// Provider is a provider name Bifrost knows without custom_provider_config,
// with the release that brought it where the history shows it.
type Provider struct {
	Name string
	// Since is the first release that knows the name; "" for providers
	// known at v1.4.x or whose release could not be pinned.
	Since string
}

// StandardProviders is maximhq/bifrost core/schemas/bifrost.go
// StandardProviders at the newest version read (commit c11bf70e, v2.2.2 or
// later: 33 names), plus deepgram, which the upstream config schema lists
// although no core version read has it, so that a config naming it is not
// reported. v1.5.11 (commit 9399212) had the first 23 below; replicate came
// in v1.4.6, vllm and runway in v1.4.8, fireworks in v1.4.20, deepseek
// after v1.5.11, sarvam in v1.6.4, typesafe in v2.2.2 (changelogs); the
// others after v1.5.11, releases not pinned. Provider names in a config are
// lower-cased when Bifrost loads it (transports/bifrost-http/lib/config.go
// loadProviders).
var StandardProviders = []Provider{
	{"openai", ""}, {"anthropic", ""}, {"azure", ""}, {"bedrock", ""}, {"cerebras", ""},
	{"cohere", ""}, {"gemini", ""}, {"groq", ""}, {"mistral", ""}, {"ollama", ""},
	{"parasail", ""}, {"perplexity", ""}, {"sgl", ""}, {"vertex", ""}, {"openrouter", ""},
	{"elevenlabs", ""}, {"huggingface", ""}, {"nebius", ""}, {"xai", ""},
	{"replicate", "1.4.6"}, {"vllm", "1.4.8"}, {"runway", "1.4.8"}, {"fireworks", "1.4.20"},
	{"deepseek", "1.5.12"}, {"bedrock_mantle", ""}, {"opencode-go", ""}, {"opencode-zen", ""},
	{"runware", ""}, {"sarvam", "1.6.4"}, {"wafer", ""}, {"github-copilot", ""},
	{"databricks", ""}, {"typesafe", "2.2.2"}, {"deepgram", ""},
}

// BuiltinProviders lists the standard provider names.
var BuiltinProviders = func() []string {
	out := make([]string, len(StandardProviders))
	for i, p := range StandardProviders {
		out[i] = p.Name
	}
	return out
}()

// LookupProvider finds a standard provider by a config's name for it,
// which Bifrost lower-cases.
func LookupProvider(name string) (Provider, bool) {
	i := slices.IndexFunc(StandardProviders, func(p Provider) bool { return p.Name == strings.ToLower(name) })
	if i < 0 {
		return Provider{}, false
	}
	return StandardProviders[i], true
}

// BaseProviderTypes are the providers a custom provider's
// custom_provider_config.base_provider_type may name: core/bifrost.go
// SupportedBaseProviders at v1.5.11 and at c11bf70e; typesafe joined later
// (helm changelog 2.1.44). Any other value fails with "unsupported base
// provider type".
var BaseProviderTypes = []string{"anthropic", "bedrock", "cohere", "gemini", "openai", "huggingface", "replicate", "typesafe"}

// KeylessBefore150 are the providers that needed no keys up to v1.4.x;
// from v1.5.0 every standard provider needs at least one key entry
// (core/utils.go providerRequiresKey at v1.4.24 and v1.5.0).
var KeylessBefore150 = []string{"ollama", "sgl"}
