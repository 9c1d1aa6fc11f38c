package rules

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Annotation keys gjallar reads or writes.
const (
	AnnotationIgnore          = "gjallar.dev/ignore"
	AnnotationConfigHash      = "gjallar.dev/config-hash"
	AnnotationRestartOnChange = "gjallar.dev/restart-on-config-change"
)

// BifrostConfigKind is the kind given to a standalone Bifrost config.json
// file, which is not a Kubernetes object but is checked like one.
var BifrostConfigKind = schema.GroupKind{Group: "gjallar.dev", Kind: "BifrostConfig"}

// AiderConfigKind is the kind given to a standalone .aider.conf.yml file, an
// Aider client config that is checked like an object.
var AiderConfigKind = schema.GroupKind{Group: "gjallar.dev", Kind: "AiderConfig"}

// AiderConfigFileName is the file name Aider loads its config from.
const AiderConfigFileName = ".aider.conf.yml"

// ObjectRef names an object in findings.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace != "" {
		return r.Kind + " " + r.Namespace + "/" + r.Name
	}
	return r.Kind + " " + r.Name
}

// Object is one Kubernetes object (or a standalone Bifrost config) as
// decoded JSON. Derived views (pod template, embedded Bifrost configs) are
// computed once on first use, so any number of rules can ask for them.
type Object struct {
	// Content is the object as decoded JSON: map[string]any, []any, string,
	// bool, nil and numbers (int64, float64 or json.Number).
	Content map[string]any

	ref ObjectRef
	gk  schema.GroupKind

	// text is the raw JSON of a standalone Bifrost config file.
	text string

	bifrostOnce sync.Once
	bifrost     []*BifrostConfig

	podOnce sync.Once
	pod     *PodTemplate
	podErr  error
}

// NewObject wraps decoded object content.
func NewObject(content map[string]any) *Object {
	apiVersion, _ := content["apiVersion"].(string)
	kind, _ := content["kind"].(string)
	o := &Object{Content: content}
	o.ref = ObjectRef{
		APIVersion: apiVersion,
		Kind:       kind,
		Namespace:  LookupString(content, "metadata", "namespace"),
		Name:       LookupString(content, "metadata", "name"),
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	o.gk = schema.GroupKind{Group: gv.Group, Kind: kind}
	return o
}

// NewBifrostConfigFile wraps a standalone Bifrost config.json file. name is
// how findings name it (the file's base name); text is its raw JSON.
func NewBifrostConfigFile(name, text string) *Object {
	o := &Object{text: text}
	o.ref = ObjectRef{APIVersion: BifrostConfigKind.Group + "/v1", Kind: BifrostConfigKind.Kind, Name: name}
	o.gk = BifrostConfigKind
	return o
}

// NewAiderConfigFile wraps a standalone .aider.conf.yml file; name is how
// findings name it, content its decoded YAML, whose fields paths point into.
func NewAiderConfigFile(name string, content map[string]any) *Object {
	o := &Object{Content: content}
	o.ref = ObjectRef{APIVersion: AiderConfigKind.Group + "/v1", Kind: AiderConfigKind.Kind, Name: name}
	o.gk = AiderConfigKind
	return o
}

func (o *Object) Ref() ObjectRef              { return o.ref }
func (o *Object) GroupKind() schema.GroupKind { return o.gk }
func (o *Object) Namespace() string           { return o.ref.Namespace }
func (o *Object) Name() string                { return o.ref.Name }

// Annotations returns metadata.annotations; values that are not strings are
// left out.
func (o *Object) Annotations() map[string]string {
	return stringMap(LookupMap(o.Content, "metadata", "annotations"))
}

func stringMap(m map[string]any) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Suppressed reports whether the object's gjallar.dev/ignore annotation
// names the rule (or "*" / "all").
func (o *Object) Suppressed(ruleID string) bool {
	list := LookupString(o.Content, "metadata", "annotations", AnnotationIgnore)
	if list == "" {
		return false
	}
	for _, id := range strings.Split(list, ",") {
		id = strings.TrimSpace(id)
		if id == ruleID || id == "*" || id == "all" {
			return true
		}
	}
	return false
}

// BifrostConfig is a Bifrost config.json found in an object: a ConfigMap or
// Secret key, or a standalone file.
type BifrostConfig struct {
	// Path is the field holding the JSON text (data["config.json"]); empty
	// for a standalone file, whose whole text is the config.
	Path Path
	// Text is the JSON text as Bifrost reads it.
	Text string
	// Encoded is set when Text was base64 in the manifest (Secret data):
	// offsets inside it do not map to the file and fixes cannot be applied.
	Encoded bool
	// Doc is the decoded config (numbers as json.Number); nil when the text
	// is not valid JSON, in which case Err says why.
	Doc any
	Err *JSONSyntaxError

	spans map[string]Span
}

// Root returns the top-level JSON object, or nil.
func (c *BifrostConfig) Root() map[string]any {
	m, _ := c.Doc.(map[string]any)
	return m
}

// Span returns where the value at p (or, if p does not exist, its deepest
// existing ancestor) lies in Text.
func (c *BifrostConfig) Span(p Path) Span {
	for n := len(p); n >= 0; n-- {
		if s, ok := c.spans[p[:n].Pointer()]; ok {
			return s
		}
	}
	return Span{Key: -1}
}

// BifrostConfigs returns the Bifrost configs the object holds, in key order.
func (o *Object) BifrostConfigs() []*BifrostConfig {
	o.bifrostOnce.Do(func() { o.bifrost = o.findBifrostConfigs() })
	return o.bifrost
}

func (o *Object) findBifrostConfigs() []*BifrostConfig {
	if o.gk == BifrostConfigKind {
		return []*BifrostConfig{parseBifrostConfig(nil, o.text, false)}
	}
	type field struct {
		name    string
		encoded bool
	}
	var fields []field
	switch o.gk {
	case schema.GroupKind{Kind: "ConfigMap"}:
		fields = []field{{"data", false}}
	case schema.GroupKind{Kind: "Secret"}:
		fields = []field{{"stringData", false}, {"data", true}}
	default:
		return nil
	}
	var out []*BifrostConfig
	for _, f := range fields {
		data := LookupMap(o.Content, f.name)
		for _, key := range slices.Sorted(maps.Keys(data)) {
			if !strings.HasSuffix(strings.ToLower(key), ".json") {
				continue
			}
			text, ok := data[key].(string)
			if !ok {
				continue
			}
			if f.encoded {
				raw, err := base64.StdEncoding.DecodeString(text)
				if err != nil {
					continue
				}
				text = string(raw)
			}
			cfg := parseBifrostConfig(P(f.name, key), text, f.encoded)
			if cfg.looksLikeBifrost() {
				out = append(out, cfg)
			}
		}
	}
	return out
}

func parseBifrostConfig(path Path, text string, encoded bool) *BifrostConfig {
	cfg := &BifrostConfig{Path: path, Text: text, Encoded: encoded}
	cfg.Doc, cfg.spans, cfg.Err = ParseJSON(text)
	return cfg
}

// looksLikeBifrost applies the signature: a top-level "providers" key or a
// getbifrost.ai $schema. Invalid JSON counts when its text mentions either,
// so that a broken config is reported rather than skipped.
func (c *BifrostConfig) looksLikeBifrost() bool {
	if c.Err != nil {
		return strings.Contains(c.Text, `"providers"`) || strings.Contains(c.Text, "getbifrost.ai")
	}
	return IsBifrostConfig(c.Doc)
}

// IsBifrostConfig reports whether a decoded JSON document has the Bifrost
// config signature.
func IsBifrostConfig(doc any) bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m["providers"]; ok {
		return true
	}
	s, _ := m["$schema"].(string)
	return strings.Contains(s, "getbifrost.ai")
}
