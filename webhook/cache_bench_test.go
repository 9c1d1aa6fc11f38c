package webhook

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// BenchmarkCache measures, per kind of bench/corpus's cluster objects
// (applied as kubectl does), what the cache pays per object: Transform is
// stripping and encoding an object as the informer delivers it, Decode is
// reading it back as a rule does when it is not kept decoded. B/op of
// Decode is the decoded object's size; compact-B/object is what the cache
// holds instead, json-B/object what the API server sends.
func BenchmarkCache(b *testing.B) {
	raws, err := corpus.ClusterObjects(20)
	if err != nil {
		b.Fatal(err)
	}
	indexed := map[schema.GroupKind]bool{}
	for _, gk := range IndexedKinds {
		indexed[gk] = true
	}
	byKind := map[string][][]byte{}
	var kinds []string
	for _, raw := range raws {
		var m map[string]any
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		applied := u.GetAnnotations()
		if applied == nil {
			applied = map[string]string{}
		}
		applied[lastAppliedAnnotation] = string(raw)
		u.SetAnnotations(applied)
		withAnnotation, err := u.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		if byKind[u.GetKind()] == nil {
			kinds = append(kinds, u.GetKind())
		}
		byKind[u.GetKind()] = append(byKind[u.GetKind()], withAnnotation)
	}
	for _, kind := range kinds {
		objs := byKind[kind]
		decoded := make([]*unstructured.Unstructured, len(objs))
		fresh := func() {
			for i, raw := range objs {
				var m map[string]any
				utiljson.Unmarshal(raw, &m)
				decoded[i] = &unstructured.Unstructured{Object: m}
			}
		}
		b.Run("Transform/"+kind, func(b *testing.B) {
			b.ReportAllocs()
			fresh()
			for i := 0; b.Loop(); i++ {
				if i%len(objs) == 0 && i > 0 {
					b.StopTimer()
					fresh() // the transform strips in place
					b.StartTimer()
				}
				transformForCache(decoded[i%len(objs)], indexed)
			}
		})
		fresh()
		cached := make([]*cachedObject, len(objs))
		size, jsonSize := 0, 0
		for _, raw := range objs {
			jsonSize += len(raw)
		}
		for i, u := range decoded {
			c, ok := transformForCache(u, indexed).(*cachedObject)
			if !ok {
				b.Fatalf("%s not compacted", kind)
			}
			cached[i] = c
			size += len(c.content)
		}
		b.Run("Decode/"+kind, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := cached[i%len(cached)].decode(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/float64(len(cached)), "compact-B/object")
			b.ReportMetric(float64(jsonSize)/float64(len(objs)), "json-B/object")
		})
	}
}
