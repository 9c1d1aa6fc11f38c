package bifrost

import (
	"maps"
	"slices"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// EnvRef is a reference from a Bifrost config to an environment variable:
// a value "env.NAME", or the structured form {"env_var": "NAME",
// "from_env": true}. Bifrost resolves such values when it loads the config
// and reads an unset variable as empty, without an error or warning
// (core/schemas/envvar.go at v1.5.11), except in otel plugin headers, where
// an unset variable fails the whole plugin ("environment variable ... not
// found", plugins/otel/utils.go and main.go).
type EnvRef struct {
	Name string
	Path rules.Path // inside the config
}

// InOtelHeaders reports whether the reference is an otel plugin header.
func (r EnvRef) InOtelHeaders() bool {
	return len(r.Path) >= 2 && r.Path[0] == "plugins" && slices.Contains(r.Path, "headers")
}

// EnvRefs lists a config's environment references in document order.
func (c *Config) EnvRefs() []EnvRef {
	var out []EnvRef
	var walk func(v any, at rules.Path)
	walk = func(v any, at rules.Path) {
		switch x := v.(type) {
		case string:
			if name, ok := strings.CutPrefix(x, "env."); ok && name != "" {
				out = append(out, EnvRef{Name: name, Path: at})
			}
		case map[string]any:
			if name, ok := x["env_var"].(string); ok && name != "" && x["from_env"] == true {
				out = append(out, EnvRef{Name: name, Path: at})
				return
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k], at.Child(k))
			}
		case []any:
			for i, e := range x {
				walk(e, at.Child(i))
			}
		}
	}
	walk(c.Doc, nil)
	return out
}
