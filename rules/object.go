package rules

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AnnotationIgnore lists the rule IDs (or "*") not to report on an object.
const AnnotationIgnore = "gjallar.dev/ignore"

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

// Object is one Kubernetes object (or a standalone file checked like one) as
// decoded JSON. Derived views (the pod template, embedded JSON documents,
// whatever a model reads from it) are computed once on first use, so any
// number of rules can ask for them.
type Object struct {
	// Content is the object as decoded JSON: map[string]any, []any, string,
	// bool, nil and numbers (int64, float64 or json.Number).
	Content map[string]any

	ref ObjectRef
	gk  schema.GroupKind

	// file is set for a standalone file checked like an object, and text
	// is its raw text when it is a JSON document.
	file *FileKind
	text string

	docsOnce sync.Once
	docs     []*JSONDoc

	podOnce sync.Once
	pod     *PodTemplate
	podErr  error

	// views holds what models derive from the object, once each: key ->
	// *view.
	views sync.Map
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

// FileKind is a kind of standalone file that is not a Kubernetes object but
// is checked like one; the models that know such files declare them, and
// the loader asks each whether a file is one.
type FileKind struct {
	Kind schema.GroupKind
	// JSON files are kept as their text, which is the object's one JSON
	// document (positions come from offsets in it); other files are YAML
	// whose decoded content is the object's Content.
	JSON bool
	// Matches reports whether a file with this base name and decoded
	// content, which has no apiVersion or kind, is of this kind.
	Matches func(name string, content map[string]any) bool
}

// NewFileObject wraps a standalone file of kind k: name is how findings name
// it, text its raw text (JSON kinds) and content its decoded YAML (others).
func NewFileObject(k *FileKind, name, text string, content map[string]any) *Object {
	o := &Object{file: k}
	if k.JSON {
		o.text = text
	} else {
		o.Content = content
	}
	o.ref = ObjectRef{APIVersion: k.Kind.Group + "/v1", Kind: k.Kind.Kind, Name: name}
	o.gk = k.Kind
	return o
}

// File returns the kind of standalone file the object is, or nil for a
// Kubernetes object.
func (o *Object) File() *FileKind { return o.file }

type view struct {
	once sync.Once
	v    any
}

// View returns what compute derives from the object, computing it once per
// key however many rules ask. key is a comparable value of a type private
// to the caller, so models cannot collide; the result must not be modified.
func (o *Object) View(key any, compute func(*Object) any) any {
	e, ok := o.views.Load(key)
	if !ok {
		e, _ = o.views.LoadOrStore(key, &view{})
	}
	v := e.(*view)
	v.once.Do(func() { v.v = compute(o) })
	return v.v
}

// PlaceIn puts an object that names no namespace in ns, as the API server
// does with a namespaced object applied by `kubectl -n ns`; the caller
// knows the kind is namespaced. It must be called before the object is
// indexed or checked.
func (o *Object) PlaceIn(ns string) {
	if o.ref.Namespace != "" || o.Content == nil || ns == "" {
		return
	}
	meta, ok := o.Content["metadata"].(map[string]any)
	if !ok {
		meta = map[string]any{}
		o.Content["metadata"] = meta
	}
	meta["namespace"] = ns
	o.ref.Namespace = ns
}

func (o *Object) Ref() ObjectRef              { return o.ref }
func (o *Object) GroupKind() schema.GroupKind { return o.gk }
func (o *Object) Namespace() string           { return o.ref.Namespace }
func (o *Object) Name() string                { return o.ref.Name }

// Annotations returns metadata.annotations; values that are not strings are
// left out.
func (o *Object) Annotations() map[string]string {
	return StringMap(LookupMap(o.Content, "metadata", "annotations"))
}

// StringMap keeps the string values of a decoded map, as labels and
// annotations are read.
func StringMap(m map[string]any) map[string]string {
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

// JSONDoc is a JSON document an object holds: a ConfigMap or Secret key
// whose name ends in .json, or a standalone JSON file's whole text.
type JSONDoc struct {
	// Path is the field holding the JSON text (data["config.json"]); empty
	// for a standalone file, whose whole text is the document.
	Path Path
	// Text is the JSON text as its reader sees it.
	Text string
	// Encoded is set when Text was base64 in the manifest (Secret data):
	// offsets inside it do not map to the file and fixes cannot be applied.
	Encoded bool
	// Doc is the decoded document (numbers as json.Number); nil when the
	// text is not valid JSON, in which case Err says why.
	Doc any
	Err *JSONSyntaxError

	spans map[string]Span
}

// Root returns the top-level JSON object, or nil.
func (d *JSONDoc) Root() map[string]any {
	m, _ := d.Doc.(map[string]any)
	return m
}

// Span returns where the value at p (or, if p does not exist, its deepest
// existing ancestor) lies in Text.
func (d *JSONDoc) Span(p Path) Span {
	for n := len(p); n >= 0; n-- {
		if s, ok := d.spans[p[:n].Pointer()]; ok {
			return s
		}
	}
	return Span{Key: -1}
}

// Has reports whether the document has a value at p.
func (d *JSONDoc) Has(p Path) bool {
	_, ok := d.spans[p.Pointer()]
	return ok
}

// JSONDocs returns the JSON documents the object holds, in key order: the
// keys of a ConfigMap's data or a Secret's stringData and data whose name
// ends in .json, or, outside a Secret's base64 data, whose value starts with
// "{" (a config.json kept under "config" and mounted under its file name);
// or a standalone JSON file's text.
func (o *Object) JSONDocs() []*JSONDoc {
	o.docsOnce.Do(func() { o.docs = o.findJSONDocs() })
	return o.docs
}

func (o *Object) findJSONDocs() []*JSONDoc {
	if o.file != nil {
		if !o.file.JSON {
			return nil
		}
		return []*JSONDoc{parseJSONDoc(nil, o.text, false)}
	}
	type field struct {
		name    string
		encoded bool
	}
	var fields []field
	switch o.gk {
	case ConfigMapKind:
		fields = []field{{"data", false}}
	case SecretKind:
		fields = []field{{"stringData", false}, {"data", true}}
	default:
		return nil
	}
	var out []*JSONDoc
	for _, f := range fields {
		data := LookupMap(o.Content, f.name)
		for _, key := range slices.Sorted(maps.Keys(data)) {
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
			// A value counts when it starts with "{", as the chart's webhook
			// match condition tests it (CEL without a costly trim).
			if !strings.HasSuffix(strings.ToLower(key), ".json") && !(strings.HasPrefix(text, "{") && !f.encoded) {
				continue
			}
			out = append(out, parseJSONDoc(P(f.name, key), text, f.encoded))
		}
	}
	return out
}

func parseJSONDoc(path Path, text string, encoded bool) *JSONDoc {
	d := &JSONDoc{Path: path, Text: text, Encoded: encoded}
	d.Doc, d.spans, d.Err = ParseJSON(text)
	return d
}
