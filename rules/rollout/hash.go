// Package rollout is gjallar's config hash: which ConfigMaps a workload's
// pods read that should roll them when they change, and the
// gjallar.dev/config-hash annotation that makes them roll. lint --fix, the
// mutating webhook and the restart controller all compute it here.
package rollout

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/hasher"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// Annotation keys of the config hash.
const (
	AnnotationConfigHash      = "gjallar.dev/config-hash"
	AnnotationRestartOnChange = "gjallar.dev/restart-on-config-change"
)

// ConfigHashPath is where the hash annotation lives in a workload.
func ConfigHashPath(t *rules.PodTemplate) rules.Path {
	return t.Path.Child("metadata", "annotations", AnnotationConfigHash)
}

// DesiredConfigHash returns the hash the workload's pod template should
// carry and the ConfigMaps it covers. ok is false when the workload needs no
// hash (it reads no config to cover, or, not opted in and carrying no hash
// of gjallar's, something else already rolls it: RolledElsewhere), or when
// a ConfigMap it must cover is not in the index, so the true value cannot
// be known. A ConfigMap whose name carries its content hash
// (NameCarriesContentHash) is not covered: changing it renames it, which
// changes the pod template already. The rule, the mutating webhook and the
// restart controller all decide by it, so none of them stamps a second roll
// onto a Helm, Reloader or Kustomize-generated workload.
func DesiredConfigHash(obj *rules.Object, idx rules.Index) (hash string, names []string, ok bool) {
	if !isRolloutKind(obj) {
		return "", nil, false
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return "", nil, false
	}
	optIn := strings.EqualFold(obj.Annotations()[AnnotationRestartOnChange], "true") ||
		strings.EqualFold(t.Meta.Annotations[AnnotationRestartOnChange], "true")
	var cms []*rules.Object
	for _, ref := range t.ConfigMapRefs() {
		cm := idx.Get(rules.ConfigMapKind, obj.Namespace(), ref.Name)
		switch {
		case cm == nil && optIn && !ref.Optional:
			return "", nil, false
		case cm == nil, NameCarriesContentHash(cm):
			continue
		case optIn || len(bifrost.Configs(cm)) > 0:
			cms = append(cms, cm)
		}
	}
	if len(cms) == 0 {
		return "", nil, false
	}
	if _, stamped := t.Meta.Annotations[AnnotationConfigHash]; !stamped && !optIn && RolledElsewhere(obj, t, cms) != "" {
		return "", nil, false
	}
	for _, cm := range cms {
		names = append(names, cm.Name())
	}
	sort.Strings(names)
	return ConfigHash(cms), names, true
}

func isRolloutKind(obj *rules.Object) bool {
	return slices.Contains(rules.RolloutKinds, obj.GroupKind())
}

// ConfigHash is the one function that computes gjallar.dev/config-hash, for
// lint --fix, the mutating webhook and the restart controller alike: a
// SHA-256 over the ConfigMaps' names and data, independent of their order
// and of map iteration order. The webhook's gjallar.dev/secret-hash is the
// same function over Secrets (their data as the API server stores it).
func ConfigHash(cms []*rules.Object) string {
	sorted := append([]*rules.Object(nil), cms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	h := sha256.New()
	for _, cm := range sorted {
		tag := "configmap"
		if cm.GroupKind() == rules.SecretKind {
			tag = "secret"
		}
		writeField(h, tag, cm.Name())
		for _, section := range []string{"data", "binaryData"} {
			data := rules.LookupMap(cm.Content, section)
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

// contentHashSuffix is the shape of the suffix kustomize's generators and
// kubectl create configmap --append-hash add: ten characters of a hex
// SHA-256 with the vowel-like digits and letters swapped out.
var contentHashSuffix = regexp.MustCompile(`^(.+)-([2456789bcdfghkmt]{10})$`)

// NameCarriesContentHash reports whether a ConfigMap's name ends in the hash
// of its own content, as Kustomize's configMapGenerator names it: any change
// to the data then renames it, and the workload referring to the new name
// rolls its pods with no annotation. It recomputes the hash with Kustomize's
// own hasher over the name without the suffix, so a name that merely looks
// hashed (or data edited after generation) does not count.
func NameCarriesContentHash(cm *rules.Object) bool {
	m := contentHashSuffix.FindStringSubmatch(cm.Name())
	if m == nil || cm.GroupKind() != rules.ConfigMapKind {
		return false
	}
	// The hash covers kind, name, data and binaryData as the object holds
	// them; a field it lacks must stay absent, not become empty.
	content := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": m[1]}}
	for _, k := range []string{"data", "binaryData"} {
		if v, ok := cm.Content[k]; ok {
			content[k] = v
		}
	}
	node, err := kyaml.FromMap(content)
	if err != nil {
		return false
	}
	sum, err := (&hasher.Hasher{}).Hash(node)
	return err == nil && sum == m[2]
}
