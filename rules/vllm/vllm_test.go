package vllm

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
)

func TestServedNames(t *testing.T) {
	cases := []struct {
		name          string
		command, args []string
		want          []string
		ok            bool
	}{
		{"served names", nil, []string{"--model", "zai-org/GLM-5", "--served-model-name", "glm-5", "glm"}, []string{"glm-5", "glm"}, true},
		{"the model's own name", nil, []string{"--model", "zai-org/GLM-5", "--port", "8000"}, []string{"zai-org/GLM-5"}, true},
		{"positional overrides --model", []string{"vllm", "serve", "Qwen/Qwen3-8B"}, []string{"--model=other"}, []string{"Qwen/Qwen3-8B"}, true},
		{"shell string", []string{"sh", "-c", "vllm serve meta-llama/Llama-3.1-8B --served-model-name=llama"}, nil, []string{"llama"}, true},
		{"shell variable", []string{"sh", "-c", "vllm serve $MODEL"}, nil, nil, false},
		{"nothing shown", nil, []string{"--port", "8000"}, nil, false},
	}
	for _, c := range cases {
		got, ok := ServedNames(rules.ContainerAt{Container: &corev1.Container{Command: c.command, Args: c.args}})
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestIsServer(t *testing.T) {
	for image, want := range map[string]bool{
		"vllm/vllm-openai:v0.11.0":                      true,
		"public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo": true,
		"maximhq/bifrost:v1.5.11":                       false,
	} {
		if got := IsServer(rules.ContainerAt{Container: &corev1.Container{Image: image}}); got != want {
			t.Errorf("%s: %v", image, got)
		}
	}
}
