package webhook

import (
	"bytes"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// What the webhook keeps of the cluster, in one place: the kinds it caches
// (IndexedKinds), what it keeps of each (below), and the manager's cache
// options that make the informers keep that (CacheOptions). The rules, the
// restart controller and anything else reading the cluster (an audit) read
// it through ClusterIndex, never through the manager's client, because the
// informers of the indexed kinds hold cachedObjects, not Unstructured.
//
// Kept of every indexed kind, and so what the rules and Rego policies'
// data.inventory see of the objects around the one under review:
//   - apiVersion, kind, metadata and everything else the API server
//     returns (spec, data, binaryData, ...),
//   - except metadata.managedFields, the kubectl.kubernetes.io/last-applied-
//     configuration annotation (a second copy of the object, as applied)
//     and status: no rule reads them, and together they are half of a
//     typical object.
//
// An update that changes nothing kept (a status update, which is most
// updates of workloads in a running cluster) is not a change for the rules:
// the facts they derive from the kind are kept.
//
// Namespaces are watched as metadata only (labels select allowed routes and
// opt namespaces out of gjallar); their spec and status never reach the
// webhook. The object under review always comes whole from the admission
// request: this only concerns the other objects a rule or policy looks up.
//
// What is kept is stored compactly (compact.go) and decoded on demand; the
// decoded objects, with what the rules derived from them, are kept for reuse
// up to a bound (decodedCache), so memory grows with the compact size of
// the cluster and not with its decoded size.

// metadataOnlyKinds are watched as metadata (PartialObjectMetadata).
var metadataOnlyKinds = map[schema.GroupKind]bool{
	{Kind: "Namespace"}: true,
}

// lastAppliedAnnotation is where `kubectl apply` (client side) keeps the
// whole object as last applied, for its three-way merge.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheOptions is the manager's cache configuration: objects of the indexed
// kinds are stripped of what no rule reads and stored compactly; every other
// object the manager caches (the certificate Secret, webhook
// configurations) loses its managedFields.
func CacheOptions() cache.Options {
	indexed := map[schema.GroupKind]bool{}
	for _, gk := range IndexedKinds {
		indexed[gk] = true
	}
	return cache.Options{
		DefaultTransform: func(in any) (any, error) { return transformForCache(in, indexed), nil },
		// Rules only read: hand them the cached objects, not copies.
		DefaultUnsafeDisableDeepCopy: ptr.To(true),
		ReaderFailOnMissingInformer:  true,
	}
}

// transformForCache turns an object the API server sent into what the cache
// keeps of it. It never fails: an object that cannot be stored compactly
// (a value no JSON decoder makes) is kept stripped but as it came, which
// ClusterIndex also reads.
func transformForCache(in any, indexed map[schema.GroupKind]bool) any {
	switch o := in.(type) {
	case *cachedObject:
		return o // already transformed (client-go may hand objects back)
	case *unstructured.Unstructured:
		if !indexed[o.GroupVersionKind().GroupKind()] {
			o.SetManagedFields(nil)
			return o
		}
		stripForCache(o.Object)
		if c, err := newCachedObject(o.Object); err == nil {
			return c
		}
		return o
	case *metav1.PartialObjectMetadata:
		if !indexed[o.GroupVersionKind().GroupKind()] {
			o.SetManagedFields(nil)
			return o
		}
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			o.SetManagedFields(nil)
			return o
		}
		stripForCache(content)
		if c, err := newCachedObject(content); err == nil {
			return c
		}
		o.SetManagedFields(nil)
		return o
	}
	if m, ok := in.(metav1.Object); ok && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return in
}

// stripForCache removes from a decoded object what the cache does not keep.
func stripForCache(content map[string]any) {
	delete(content, "status")
	meta, _ := content["metadata"].(map[string]any)
	if meta == nil {
		return
	}
	delete(meta, "managedFields")
	if ann, ok := meta["annotations"].(map[string]any); ok {
		delete(ann, lastAppliedAnnotation)
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
}

// cachedObject is what the informers of the indexed kinds hold: the
// object's identity, which the informer indexes and event handlers read,
// and its content in compact form, which ClusterIndex decodes on demand.
// Its content is never modified once made, so copies share it.
//
// It implements metav1.Object with the identity alone (a full ObjectMeta
// would be 240 bytes of mostly empty fields per cached object): the other
// getters return nothing and their setters do nothing. Nothing reads them:
// the informers key and index by namespace and name, and the restart
// controller enqueues by them.
type cachedObject struct {
	metav1.TypeMeta
	namespace, name string
	uid             types.UID
	resourceVersion string
	content         []byte
}

var _ metav1.Object = &cachedObject{}

// encodeBuffers hold the scratch space objects are encoded in, so that what
// the cache keeps is an exact-size copy, not a buffer grown by doubling.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// newCachedObject stores content compactly. The resourceVersion is kept
// apart from the rest, so two versions that differ in nothing else have
// equal content.
func newCachedObject(content map[string]any) (*cachedObject, error) {
	u := unstructured.Unstructured{Object: content}
	c := &cachedObject{}
	c.APIVersion, c.Kind = u.GetAPIVersion(), u.GetKind()
	c.namespace, c.name = u.GetNamespace(), u.GetName()
	c.uid, c.resourceVersion = u.GetUID(), u.GetResourceVersion()
	if meta, ok := content["metadata"].(map[string]any); ok {
		delete(meta, "resourceVersion")
	}
	scratch := encodeBuffers.Get().(*[]byte)
	defer encodeBuffers.Put(scratch)
	b, err := encodeCompact((*scratch)[:0], content)
	if err != nil {
		if meta, ok := content["metadata"].(map[string]any); ok && c.resourceVersion != "" {
			meta["resourceVersion"] = c.resourceVersion
		}
		return nil, err
	}
	*scratch = b
	c.content = bytes.Clone(b)
	return c, nil
}

// decode returns the object as the rules see it: what the cache keeps of it,
// resourceVersion included.
func (c *cachedObject) decode() (map[string]any, error) {
	content, err := decodeCompact(c.content)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s in the cache: %w", c.Kind, c.namespace, c.name, err)
	}
	if meta, ok := content["metadata"].(map[string]any); ok && c.resourceVersion != "" {
		meta["resourceVersion"] = c.resourceVersion
	}
	return content, nil
}

// sameForRules reports whether a new version of a cached object keeps what
// the old one kept: it changed only in what the cache drops.
func sameForRules(old, obj any) bool {
	o, ok1 := old.(*cachedObject)
	n, ok2 := obj.(*cachedObject)
	return ok1 && ok2 && bytes.Equal(o.content, n.content)
}

// DeepCopyObject implements runtime.Object; the content is shared, as it is
// never modified.
func (c *cachedObject) DeepCopyObject() runtime.Object {
	out := *c
	return &out
}

func (c *cachedObject) GetNamespace() string                          { return c.namespace }
func (c *cachedObject) SetNamespace(ns string)                        { c.namespace = ns }
func (c *cachedObject) GetName() string                               { return c.name }
func (c *cachedObject) SetName(name string)                           { c.name = name }
func (c *cachedObject) GetUID() types.UID                             { return c.uid }
func (c *cachedObject) SetUID(uid types.UID)                          { c.uid = uid }
func (c *cachedObject) GetResourceVersion() string                    { return c.resourceVersion }
func (c *cachedObject) SetResourceVersion(v string)                   { c.resourceVersion = v }
func (c *cachedObject) GetGenerateName() string                       { return "" }
func (c *cachedObject) SetGenerateName(string)                        {}
func (c *cachedObject) GetGeneration() int64                          { return 0 }
func (c *cachedObject) SetGeneration(int64)                           {}
func (c *cachedObject) GetSelfLink() string                           { return "" }
func (c *cachedObject) SetSelfLink(string)                            {}
func (c *cachedObject) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (c *cachedObject) SetCreationTimestamp(metav1.Time)              {}
func (c *cachedObject) GetDeletionTimestamp() *metav1.Time            { return nil }
func (c *cachedObject) SetDeletionTimestamp(*metav1.Time)             {}
func (c *cachedObject) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (c *cachedObject) SetDeletionGracePeriodSeconds(*int64)          {}
func (c *cachedObject) GetLabels() map[string]string                  { return nil }
func (c *cachedObject) SetLabels(map[string]string)                   {}
func (c *cachedObject) GetAnnotations() map[string]string             { return nil }
func (c *cachedObject) SetAnnotations(map[string]string)              {}
func (c *cachedObject) GetFinalizers() []string                       { return nil }
func (c *cachedObject) SetFinalizers([]string)                        {}
func (c *cachedObject) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (c *cachedObject) SetOwnerReferences([]metav1.OwnerReference)    {}
func (c *cachedObject) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (c *cachedObject) SetManagedFields([]metav1.ManagedFieldsEntry)  {}

// storedBytes is what the cache holds of an object beyond its identity: the
// compact content, or for an object kept as it came, nothing it can tell
// cheaply.
func storedBytes(obj any) int {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if c, ok := obj.(*cachedObject); ok {
		return len(c.content)
	}
	return 0
}
