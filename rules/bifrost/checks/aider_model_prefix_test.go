package checks

import (
	"strings"
	"testing"
)

func TestAiderModelProblem(t *testing.T) {
	known := map[string]bool{"openai": true, "anthropic": true, "inhouse": true}
	cases := []struct{ model, want string }{
		{"openai/openai/glm-5", ""},
		{"openai/anthropic/claude-sonnet-4", ""},
		{"openai/inhouse/coder", ""},
		{"openai/glm-5", `write "openai/openai/glm-5"`},
		{"openai/gpt-4o", `write "openai/openai/gpt-4o"`},
		{"openai/claude-sonnet-4", `write "openai/anthropic/claude-sonnet-4"`},
		{"openai/openai-glm-5", `write "openai/openai/glm-5"`},
		{"glm-5", `no openai/ prefix`},
		{"glm-5", `write "openai/openai/glm-5"`},
		{"anthropic/claude-sonnet-4", `write "openai/anthropic/claude-sonnet-4"`},
	}
	for _, c := range cases {
		got := aiderModelProblem("model", c.model, known)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.model, got, c.want)
		}
	}
}
