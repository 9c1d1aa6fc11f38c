package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"sort"
	"strings"
)

// ConfigRolloutHash makes a config change roll the pods that read it.
var ConfigRolloutHash = &Rule{
	ID:       "config-rollout-hash",
	Summary:  "Workloads reading a Bifrost config must carry a current gjallar.dev/config-hash (missing: warning, stale: error)",
	Severity: Error,
	Fixable:  true,
	Rationale: "Bifrost reads config.json once into its SQLite store; a changed ConfigMap does nothing " +
		"until the pods restart with a fresh store, and Kubernetes does not restart pods when a " +
		"ConfigMap changes. The pod-template annotation `gjallar.dev/config-hash` holds a hash of the " +
		"ConfigMaps the pods read, so a config change changes the template and rolls the pods. " +
		"Applies to Deployments, StatefulSets and DaemonSets that read a ConfigMap holding a Bifrost " +
		"config, or any ConfigMap when the workload or its pod template is annotated " +
		"`gjallar.dev/restart-on-config-change: \"true\"`. A missing hash is a warning, a stale one an " +
		"error. `gjallar lint --fix` and the mutating webhook stamp the same value.",
	Kinds: RolloutKinds,
	Check: checkConfigRolloutHash,
}

func checkConfigRolloutHash(c *Context, obj *Object) {
	want, names, ok := DesiredConfigHash(obj, c.Index)
	if !ok {
		return
	}
	t, _ := obj.PodTemplate()
	at := ConfigHashPath(t)
	fix := &Fix{
		Description: "stamp " + AnnotationConfigHash,
		Edits:       []Edit{{Path: at, Value: want}},
	}
	list := "ConfigMap " + names[0]
	if len(names) > 1 {
		list = "ConfigMaps " + strings.Join(names, ", ")
	}
	have, present := t.Meta.Annotations[AnnotationConfigHash]
	switch {
	case !present:
		c.Report(Finding{Severity: Warning, Path: at, Fix: fix, Message: fmt.Sprintf(
			"pod template has no %s, so the pods keep running the old config after %s changes (Bifrost keeps serving it from its store); run gjallar lint --fix or let the webhook stamp it",
			AnnotationConfigHash, list)})
	case have != want:
		c.Report(Finding{Severity: Error, Path: at, Fix: fix, Message: fmt.Sprintf(
			"%s is stale: %s changed since it was stamped, so the running pods still use the old config; set it to %s (gjallar lint --fix)",
			AnnotationConfigHash, list, want)})
	}
}

// ConfigHashPath is where the hash annotation lives in a workload.
func ConfigHashPath(t *PodTemplate) Path {
	return t.Path.Child("metadata", "annotations", AnnotationConfigHash)
}

// DesiredConfigHash returns the hash the workload's pod template should
// carry and the ConfigMaps it covers. ok is false when the workload needs no
// hash, or when a ConfigMap it must cover is not in the index, so the true
// value cannot be known.
func DesiredConfigHash(obj *Object, idx Index) (hash string, names []string, ok bool) {
	if !isRolloutKind(obj) {
		return "", nil, false
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return "", nil, false
	}
	optIn := strings.EqualFold(obj.Annotations()[AnnotationRestartOnChange], "true") ||
		strings.EqualFold(t.Meta.Annotations[AnnotationRestartOnChange], "true")
	var cms []*Object
	for _, ref := range t.ConfigMapRefs() {
		cm := idx.Get(ConfigMapKind, obj.Namespace(), ref.Name)
		switch {
		case cm == nil && optIn && !ref.Optional:
			return "", nil, false
		case cm == nil:
			continue
		case optIn || len(cm.BifrostConfigs()) > 0:
			cms = append(cms, cm)
		}
	}
	if len(cms) == 0 {
		return "", nil, false
	}
	for _, cm := range cms {
		names = append(names, cm.Name())
	}
	sort.Strings(names)
	return ConfigHash(cms), names, true
}

func isRolloutKind(obj *Object) bool {
	for _, gk := range RolloutKinds {
		if obj.gk == gk {
			return true
		}
	}
	return false
}

// ConfigHash is the one function that computes gjallar.dev/config-hash, for
// lint --fix, the mutating webhook and the restart controller alike: a
// SHA-256 over the ConfigMaps' names and data, independent of their order
// and of map iteration order.
func ConfigHash(cms []*Object) string {
	sorted := append([]*Object(nil), cms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	h := sha256.New()
	for _, cm := range sorted {
		writeField(h, "configmap", cm.Name())
		for _, section := range []string{"data", "binaryData"} {
			data := LookupMap(cm.Content, section)
			for _, k := range slices.Sorted(maps.Keys(data)) {
				v, _ := data[k].(string)
				writeField(h, section, k)
				writeField(h, "value", v)
			}
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// writeField length-prefixes each part so that no two different inputs
// hash the same bytes.
func writeField(h hash.Hash, tag, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write([]byte(tag))
	h.Write(n[:])
	h.Write([]byte(s))
}
