package checks

import (
	"strings"
	"testing"
)

func TestAiderModelProblem(t *testing.T) {
	known := map[string]bool{"openai": true, "anthropic": true, "inhouse": true}
	cases := []struct {
		model, want string
		openAIRoute bool
	}{
		{"openai/openai/glm-5", "", false},
		{"openai/anthropic/claude-sonnet-4", "", false},
		{"openai/inhouse/coder", "", false},
		{"openai/glm-5", `write "openai/openai/glm-5"`, false},
		{"openai/gpt-4o", `write "openai/openai/gpt-4o"`, false},
		{"openai/claude-sonnet-4", `write "openai/anthropic/claude-sonnet-4"`, false},
		{"openai/openai-glm-5", `write "openai/openai/glm-5"`, false},
		{"glm-5", `no openai/ prefix`, false},
		{"glm-5", `write "openai/openai/glm-5"`, false},
		{"anthropic/claude-sonnet-4", `write "openai/anthropic/claude-sonnet-4"`, false},
		{"gpt-4o", `LiteLLM sends it to openai-api-base as plain "gpt-4o"`, false},
		{"glm-5", `does not send it to openai-api-base (Bifrost) at all`, false},
		{"openai/glm-5", "", true},
		{"glm-5", `write "openai/glm-5"`, true},
	}
	for _, c := range cases {
		got := aiderModelProblem("model", c.model, known, c.openAIRoute)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.model, got, c.want)
		}
	}
}
