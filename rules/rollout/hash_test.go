package rollout

import (
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
)

func configMap(name string, annotations map[string]any, data map[string]any) *rules.Object {
	meta := map[string]any{"name": name, "namespace": "ai"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
}

func TestConfigHashStableAndSensitive(t *testing.T) {
	a := configMap("a", nil, map[string]any{"config.json": "{}", "x": "1"})
	b := configMap("b", nil, map[string]any{"y": "2"})
	h := ConfigHash([]*rules.Object{a, b})
	if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Fatalf("hash %q is not sha256:<64 hex>", h)
	}
	if ConfigHash([]*rules.Object{b, a}) != h {
		t.Error("hash depends on ConfigMap order")
	}
	// Golden value: the webhook in a cluster stamps the same function's
	// output, so changing it rolls every workload on upgrade. Change this
	// only on purpose.
	if h != "sha256:17d09353cb2002ea842ca4e46241d005c41b9893aba5a69fe4dd538637e6e69d" {
		t.Errorf("ConfigHash changed: %s", h)
	}
	changes := []*rules.Object{
		configMap("a", nil, map[string]any{"config.json": "{ }", "x": "1"}),
		configMap("a", nil, map[string]any{"config.json": "{}", "x": "1", "z": ""}),
		configMap("a2", nil, map[string]any{"config.json": "{}", "x": "1"}),
		// Moving bytes between key and value must not collide.
		configMap("a", nil, map[string]any{"config.jso": "n{}", "x": "1"}),
	}
	for i, c := range changes {
		if ConfigHash([]*rules.Object{c, b}) == h {
			t.Errorf("change %d does not change the hash", i)
		}
	}
}

func TestDesiredConfigHash(t *testing.T) {
	bifrostCM := configMap("bifrost", nil, map[string]any{"config.json": `{"providers": {}}`})
	plainCM := configMap("plain", nil, map[string]any{"a": "b"})
	deploy := func(annotations map[string]any, cms ...string) *rules.Object {
		var vols []any
		for _, n := range cms {
			vols = append(vols, map[string]any{"name": n, "configMap": map[string]any{"name": n}})
		}
		meta := map[string]any{"name": "d", "namespace": "ai", "annotations": annotations}
		return rules.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "c", "image": "x"}}, "volumes": vols}}}})
	}
	idx := rules.NewMemIndex([]*rules.Object{bifrostCM, plainCM})
	optIn := map[string]any{AnnotationRestartOnChange: "true"}
	cases := []struct {
		name  string
		obj   *rules.Object
		ok    bool
		names string
	}{
		{"bifrost config", deploy(nil, "bifrost", "plain"), true, "bifrost"},
		{"plain only", deploy(nil, "plain"), false, ""},
		{"opt in", deploy(optIn, "plain", "bifrost"), true, "bifrost,plain"},
		{"opt in, one missing", deploy(optIn, "plain", "missing"), false, ""},
		{"missing, not opted in", deploy(nil, "bifrost", "missing"), true, "bifrost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, names, ok := DesiredConfigHash(c.obj, idx)
			if ok != c.ok || strings.Join(names, ",") != c.names {
				t.Fatalf("got %q %v %v", h, names, ok)
			}
			if ok && h == "" {
				t.Error("empty hash")
			}
		})
	}
}
