// Package vllm is what gjallar's rules know of vLLM's OpenAI-compatible
// server: which model names it serves.
//
// vLLM serves a model under each name given to --served-model-name, and
// under the model's own name (--model, or the positional model of `vllm
// serve MODEL`, which overrides --model) when none is given
// (vllm-project/vllm vllm/config/model.py get_served_model_name;
// vllm/entrypoints/cli/serve.py; the OpenAI server lists every served name
// at /v1/models). It answers a request for any other model with 404.
package vllm

import (
	"path"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// IsServer reports whether a container runs vLLM's OpenAI-compatible
// server: a vllm image (vllm/vllm-openai and the like) or a command that
// starts it.
func IsServer(c rules.ContainerAt) bool {
	ref := c.Image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	repo := strings.ToLower(ref)
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if strings.Contains(path.Base(repo), "vllm") {
		return true
	}
	cmd := strings.Join(c.Command, " ")
	return strings.Contains(cmd, "vllm serve") || strings.Contains(cmd, "vllm.entrypoints.openai.api_server")
}

// ServedNames returns the model names a vLLM container serves; ok is false
// when its command line does not show them (a shell variable, an argument
// from elsewhere).
func ServedNames(c rules.ContainerAt) (names []string, ok bool) {
	var tokens []string
	for _, s := range append(append([]string(nil), c.Command...), c.Args...) {
		tokens = append(tokens, strings.Fields(s)...)
	}
	var model, positional string
	var served []string
	for i := 0; i < len(tokens); i++ {
		tok := strings.Trim(tokens[i], `"'`)
		name, value, hasValue := strings.Cut(tok, "=")
		switch name {
		case "--served-model-name":
			if hasValue {
				served = append(served, value)
				continue
			}
			for i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1], "-") {
				i++
				served = append(served, strings.Trim(tokens[i], `"'`))
			}
		case "--model":
			if hasValue {
				model = value
			} else if i+1 < len(tokens) {
				i++
				model = strings.Trim(tokens[i], `"'`)
			}
		case "serve":
			if i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1], "-") {
				i++
				positional = strings.Trim(tokens[i], `"'`)
			}
		}
	}
	if positional != "" {
		model = positional
	}
	if len(served) == 0 && model != "" {
		served = []string{model}
	}
	for _, n := range served {
		if n == "" || strings.ContainsAny(n, "$`") {
			return nil, false
		}
	}
	return served, len(served) > 0
}
