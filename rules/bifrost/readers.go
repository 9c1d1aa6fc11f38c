package bifrost

import (
	"github.com/gjallar-dev/gjallar/rules"
)

// readerKey names a ConfigMap or Secret.
type readerKey struct {
	kind, namespace, name string
}

// Readers returns the Bifrost containers whose pods mount the ConfigMap or
// Secret obj, from every workload in the index: what reads a config tells
// which Bifrost release it is written for. Computed once per run.
func Readers(c *rules.Context, obj *rules.Object) []Container {
	if obj.File() != nil {
		return nil
	}
	readers := c.SharedOver("bifrost-config-readers", rules.PodTemplateKinds, func() any {
		out := map[readerKey][]Container{}
		for _, gk := range rules.PodTemplateKinds {
			rules.Each(c.Index, gk, "", func(w *rules.Object) {
				t, err := w.PodTemplate()
				if err != nil || t == nil {
					return
				}
				ctrs := Containers(t)
				if len(ctrs) == 0 {
					return
				}
				for _, v := range t.Spec.Volumes {
					switch {
					case v.ConfigMap != nil:
						k := readerKey{"ConfigMap", w.Namespace(), v.ConfigMap.Name}
						out[k] = append(out[k], ctrs...)
					case v.Secret != nil:
						k := readerKey{"Secret", w.Namespace(), v.Secret.SecretName}
						out[k] = append(out[k], ctrs...)
					case v.Projected != nil:
						for _, s := range v.Projected.Sources {
							if s.ConfigMap != nil {
								k := readerKey{"ConfigMap", w.Namespace(), s.ConfigMap.Name}
								out[k] = append(out[k], ctrs...)
							}
							if s.Secret != nil {
								k := readerKey{"Secret", w.Namespace(), s.Secret.Name}
								out[k] = append(out[k], ctrs...)
							}
						}
					}
				}
			})
		}
		return out
	}).(map[readerKey][]Container)
	return readers[readerKey{obj.GroupKind().Kind, obj.Namespace(), obj.Name()}]
}

// AllBefore reports whether there are readers and every one runs a known
// release older than release: the config is evidently written for it.
func AllBefore(readers []Container, release string) bool {
	for _, r := range readers {
		if !Before(r.Version, release) {
			return false
		}
	}
	return len(readers) > 0
}

// AnyAtLeast reports whether some reader runs a known release that is
// release or newer.
func AnyAtLeast(readers []Container, release string) bool {
	for _, r := range readers {
		if AtLeast(r.Version, release) {
			return true
		}
	}
	return false
}
