package checks

import "github.com/gjallar-dev/gjallar/rules"

func configMap(name string, annotations map[string]any, data map[string]any) *rules.Object {
	meta := map[string]any{"name": name, "namespace": "ai"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
}
