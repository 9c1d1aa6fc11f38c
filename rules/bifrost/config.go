// Package bifrost is what gjallar's rules know of Bifrost: its config.json
// (providers, keys, plugins, stores), the providers it knows, its image and
// how the container runs, and how clients' model names and base URLs reach
// it. Rules about Bifrost live in bifrost/checks and read it from here.
package bifrost

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// ConfigKind is the kind given to a standalone Bifrost config.json file,
// which is not a Kubernetes object but is checked like one.
var ConfigKind = schema.GroupKind{Group: "gjallar.dev", Kind: "BifrostConfig"}

// ConfigFile recognises a standalone config.json by Bifrost's signature.
var ConfigFile = &rules.FileKind{
	Kind:    ConfigKind,
	JSON:    true,
	Matches: func(_ string, content map[string]any) bool { return IsConfig(content) },
}

// ConfigKinds are the kinds that can hold a Bifrost config.
var ConfigKinds = []schema.GroupKind{rules.ConfigMapKind, rules.SecretKind, ConfigKind}

// Config is a Bifrost config.json found in an object: a ConfigMap or Secret
// key, or a standalone file.
type Config struct {
	*rules.JSONDoc
}

// Name is how a message names the config: its key, or "the config" for a
// standalone file.
func (c *Config) Name() string {
	if len(c.Path) == 0 {
		return "the config"
	}
	return c.Path[len(c.Path)-1]
}

type configsKey struct{}

// Configs returns the Bifrost configs the object holds, in key order.
func Configs(obj *rules.Object) []*Config {
	return obj.View(configsKey{}, findConfigs).([]*Config)
}

func findConfigs(obj *rules.Object) any {
	var out []*Config
	for _, d := range obj.JSONDocs() {
		if obj.File() == ConfigFile || looksLikeConfig(d) {
			out = append(out, &Config{d})
		}
	}
	return out
}

// looksLikeConfig applies the signature (IsConfig). Invalid JSON counts
// when its text mentions "providers" or getbifrost.ai, so that a broken
// config is reported rather than skipped.
func looksLikeConfig(d *rules.JSONDoc) bool {
	if d.Err != nil {
		return strings.Contains(d.Text, `"providers"`) || strings.Contains(d.Text, "getbifrost.ai")
	}
	return IsConfig(d.Doc)
}

// signatureKeys are top-level keys only a Bifrost config.json has: one of
// them marks a JSON object as one (a config may leave providers to the UI
// and set only its stores or clustering).
var signatureKeys = []string{"providers", "config_store", "logs_store", "cluster_config"}

// IsConfig reports whether a decoded JSON document has the Bifrost config
// signature.
func IsConfig(doc any) bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	for _, k := range signatureKeys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	s, _ := m["$schema"].(string)
	return strings.Contains(s, "getbifrost.ai")
}

// OtelProfile is one otel exporter config: the plugin's config, or one entry
// of its profiles list.
type OtelProfile struct {
	Config map[string]any
	Path   rules.Path // inside the Bifrost config
}

// OtelProfiles lists the exporter configs of every otel plugin Bifrost
// loads: the plugin's name must be "otel" and its `enabled` true, since an
// omitted `enabled` is false (core/schemas/plugin.go, server/plugins.go at
// v1.5.11); a profile's own `enabled` defaults to true
// (plugins/otel/main.go).
func (c *Config) OtelProfiles() []OtelProfile {
	var out []OtelProfile
	for i, p := range rules.LookupList(c.Root(), "plugins") {
		plugin, _ := p.(map[string]any)
		if rules.LookupString(plugin, "name") != "otel" || plugin["enabled"] != true {
			continue
		}
		conf := rules.LookupMap(plugin, "config")
		at := rules.P("plugins", i, "config")
		if conf == nil {
			out = append(out, OtelProfile{Config: map[string]any{}, Path: rules.P("plugins", i)})
			continue
		}
		if profiles, ok := conf["profiles"].([]any); ok {
			for j, prof := range profiles {
				if m, ok := prof.(map[string]any); ok && m["enabled"] != false {
					out = append(out, OtelProfile{Config: m, Path: at.Child("profiles", j)})
				}
			}
			continue
		}
		out = append(out, OtelProfile{Config: conf, Path: at})
	}
	return out
}
