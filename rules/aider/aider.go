// Package aider is what gjallar's rules know of Aider, a coding client
// that reaches Bifrost through LiteLLM's OpenAI-compatible client: where
// its config lives and which keys name models.
package aider

import (
	"maps"
	"path"
	"slices"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// ConfigFileName is the file name Aider loads its config from.
const ConfigFileName = ".aider.conf.yml"

// ConfigKind is the kind given to a standalone .aider.conf.yml file.
var ConfigKind = schema.GroupKind{Group: "gjallar.dev", Kind: "AiderConfig"}

// ConfigFile recognises a standalone .aider.conf.yml by its name.
var ConfigFile = &rules.FileKind{
	Kind:    ConfigKind,
	Matches: func(name string, _ map[string]any) bool { return path.Base(name) == ConfigFileName },
}

// ModelKeys are the config keys that name a model.
var ModelKeys = []string{"model", "weak-model", "editor-model"}

// Config is one Aider config found in an object.
type Config struct {
	Values map[string]any
	// At returns where a key's finding points: the key itself in a
	// standalone file, the ConfigMap key holding the YAML otherwise.
	At func(key string) rules.Path
}

// Configs returns the Aider configs an object holds: a standalone file, or
// ConfigMap keys named .aider.conf.yml.
func Configs(obj *rules.Object) []Config {
	if obj.GroupKind() == ConfigKind {
		return []Config{{Values: obj.Content, At: func(key string) rules.Path { return rules.P(key) }}}
	}
	var out []Config
	data := rules.LookupMap(obj.Content, "data")
	for _, key := range slices.Sorted(maps.Keys(data)) {
		text, ok := data[key].(string)
		if !ok || path.Base(key) != ConfigFileName {
			continue
		}
		var values map[string]any
		if err := yaml.Unmarshal([]byte(text), &values); err != nil || values == nil {
			continue
		}
		at := rules.P("data", key)
		out = append(out, Config{Values: values, At: func(string) rules.Path { return at }})
	}
	return out
}
