package bifrost

// BuiltinProviders are the provider names Bifrost knows without a
// custom_provider_config.
var BuiltinProviders = []string{
	"openai", "anthropic", "bedrock", "cohere", "azure", "vertex", "mistral", "ollama",
	"groq", "gemini", "openrouter", "sgl", "parasail", "perplexity", "replicate", "elevenlabs",
	"cerebras", "deepseek", "vllm", "huggingface", "fireworks", "nebius", "xai",
}
