package rollout

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

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

// The names below are what kustomize build gives a configMapGenerator with
// these literals (kustomize v5, sigs.k8s.io/kustomize/api v0.21.1).
func TestNameCarriesContentHash(t *testing.T) {
	generated := configMap("bifrost-config-"+kustomizeSuffix(t, "bifrost-config", map[string]any{"config.json": `{"providers": {}}`}), nil,
		map[string]any{"config.json": `{"providers": {}}`})
	if !NameCarriesContentHash(generated) {
		t.Fatalf("%s: generated name not recognised", generated.Name())
	}
	edited := configMap(generated.Name(), nil, map[string]any{"config.json": `{"providers": {"openai": {}}}`})
	if NameCarriesContentHash(edited) {
		t.Error("data edited after generation still counts as content-addressed")
	}
	lookalike := configMap("bifrost-config-bcdfghkmt2", nil, map[string]any{"config.json": `{"providers": {}}`})
	if NameCarriesContentHash(lookalike) {
		t.Error("a name that only looks hashed counts as content-addressed")
	}
	// A workload reading only a content-addressed Bifrost config needs no
	// gjallar.dev/config-hash: a config change renames the ConfigMap.
	dep := rules.NewObject(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "bifrost", "namespace": "ai"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "bifrost", "image": "maximhq/bifrost:v1.3.9"}},
			"volumes":    []any{map[string]any{"name": "c", "configMap": map[string]any{"name": generated.Name()}}},
		}}},
	})
	if _, _, ok := DesiredConfigHash(dep, rules.NewMemIndex([]*rules.Object{generated})); ok {
		t.Error("a generated ConfigMap still demands a config hash")
	}
	if _, _, ok := DesiredConfigHash(dep, rules.NewMemIndex([]*rules.Object{edited})); !ok {
		t.Error("an edited ConfigMap under a hashed-looking name demands no config hash")
	}
}

// kustomizeSuffix builds a configMapGenerator with kustomize itself and
// returns the suffix it gave the name.
func kustomizeSuffix(t *testing.T, name string, data map[string]any) string {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	var k strings.Builder
	k.WriteString("configMapGenerator:\n- name: " + name + "\n  files:\n")
	for key, v := range data {
		if err := fs.WriteFile("/k/"+key, []byte(v.(string))); err != nil {
			t.Fatal(err)
		}
		k.WriteString("  - " + key + "\n")
	}
	if err := fs.WriteFile("/k/kustomization.yaml", []byte(k.String())); err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatal(err)
	}
	got := m.Resources()[0].GetName()
	return strings.TrimPrefix(got, name+"-")
}
