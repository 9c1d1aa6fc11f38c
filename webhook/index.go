package webhook

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
)

// IndexedKinds are the kinds the webhook caches for cross-object rules
// (cache.go says what it keeps of each). Secrets are left out on purpose: caching every Secret would need
// cluster-wide read access to credentials. Pods, ReplicaSets and Jobs are
// left out because their owners carry the same pod templates.
var IndexedKinds = []schema.GroupKind{
	{Kind: "ConfigMap"},
	{Kind: "Service"},
	{Kind: "PersistentVolumeClaim"},
	{Kind: "Namespace"},
	{Group: "apps", Kind: "Deployment"},
	{Group: "apps", Kind: "StatefulSet"},
	{Group: "apps", Kind: "DaemonSet"},
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
	{Group: "gateway.networking.k8s.io", Kind: "Gateway"},
	{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"},
	{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"},
	{Group: "gateway.networking.k8s.io", Kind: "ReferenceGrant"},
	{Group: "gateway.kgateway.dev", Kind: "GatewayParameters"},
}

// ClusterIndex is the rules.Index over the manager's cache: what the
// cluster holds, read-only. Kinds whose API is not installed (Gateway API
// or kgateway CRDs) are simply absent, so the webhook still answers.
//
// It reads the informers' stores directly: they hold cachedObjects (see
// cache.go), which it decodes on demand through a bounded cache of decoded
// objects.
type ClusterIndex struct {
	kinds map[schema.GroupKind]*indexedKind

	// decoded keeps recently read objects' rules.Object wrappers while their
	// version is unchanged, so derived views (parsed Bifrost configs, typed
	// pod templates) are computed once per version rather than once per
	// admission request.
	decoded *decodedCache
}

// indexedKind is one cached kind: its informer's store, and a count of its
// informer events, so that facts the rules derive from a kind
// (rules.Context.SharedOver) are kept across admission requests until it
// changes. Kinds not cached have no entry: the index never holds any, so
// they never change.
type indexedKind struct {
	gvk      schema.GroupVersionKind
	store    toolscache.Indexer
	informer toolscache.SharedIndexInformer
	version  atomic.Uint64
	// objects and bytes count what the store holds, for the metrics.
	objects, bytes atomic.Int64
}

// NewClusterIndex resolves each wanted kind to the version the API server
// serves and starts an informer for it; kinds that are not served are
// skipped and reported in the returned list. decodedObjects bounds how many
// objects are kept decoded (0: DefaultDecodedObjects). The cache should be
// built with CacheOptions; without them its objects are read as they come.
func NewClusterIndex(ctx context.Context, c cache.Cache, mapper meta.RESTMapper, kinds []schema.GroupKind, decodedObjects int) (*ClusterIndex, []schema.GroupKind, error) {
	idx := &ClusterIndex{kinds: map[schema.GroupKind]*indexedKind{}, decoded: newDecodedCache(decodedObjects)}
	var missing []schema.GroupKind
	for _, gk := range kinds {
		m, err := mapper.RESTMapping(gk)
		if err != nil {
			if meta.IsNoMatchError(err) {
				missing = append(missing, gk)
				continue
			}
			return nil, nil, fmt.Errorf("mapping %s: %w", gk, err)
		}
		var watched client.Object
		if metadataOnlyKinds[gk] {
			pm := &metav1.PartialObjectMetadata{}
			pm.SetGroupVersionKind(m.GroupVersionKind)
			watched = pm
		} else {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(m.GroupVersionKind)
			watched = u
		}
		inf, err := c.GetInformer(ctx, watched)
		if err != nil {
			return nil, nil, fmt.Errorf("informer for %s: %w", gk, err)
		}
		shared, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return nil, nil, fmt.Errorf("informer for %s has no store to read (%T)", gk, inf)
		}
		k := &indexedKind{gvk: m.GroupVersionKind, store: shared.GetIndexer(), informer: shared}
		// Count every change and what is cached; forget decoded copies of
		// deleted objects. The informer updates its store before it calls
		// handlers, so a fact computed in between is stored under the old
		// count and computed again after the increment.
		_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				k.version.Add(1)
				k.objects.Add(1)
				k.bytes.Add(int64(storedBytes(obj)))
			},
			UpdateFunc: func(old, obj any) {
				if !sameForRules(old, obj) {
					k.version.Add(1)
				}
				k.bytes.Add(int64(storedBytes(obj) - storedBytes(old)))
			},
			DeleteFunc: func(obj any) {
				k.version.Add(1)
				k.objects.Add(-1)
				k.bytes.Add(-int64(storedBytes(obj)))
				idx.forget(obj)
			},
		})
		if err != nil {
			return nil, nil, err
		}
		idx.kinds[gk] = k
	}
	return idx, missing, nil
}

// OnChange calls fn after every change to a cached object that the rules
// can see: a creation, a deletion, or an update of more than what the cache
// drops (status, managedFields, the last-applied annotation).
func (idx *ClusterIndex) OnChange(fn func()) error {
	for _, k := range idx.kinds {
		_, err := k.informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { fn() },
			DeleteFunc: func(any) { fn() },
			UpdateFunc: func(old, cur any) {
				if !sameForRules(old, cur) {
					fn()
				}
			},
		})
		if err != nil {
			return fmt.Errorf("watching %s: %w", k.gvk.GroupKind(), err)
		}
	}
	return nil
}

func (idx *ClusterIndex) forget(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if o, ok := obj.(metav1.Object); ok {
		idx.decoded.forget(o.GetUID())
	}
}

// object returns the rules.Object for an item of an informer's store, or
// nil for one that cannot be read (it was stored by a transform this index
// does not know, or its compact form does not decode).
func (idx *ClusterIndex) object(item any) *rules.Object {
	switch o := item.(type) {
	case *cachedObject:
		obj, err := idx.decoded.get(o.uid, o, func() (*rules.Object, error) {
			content, err := o.decode()
			if err != nil {
				return nil, err
			}
			return rules.NewObject(content), nil
		})
		if err != nil {
			return nil
		}
		return obj
	case *unstructured.Unstructured:
		obj, _ := idx.decoded.get(o.GetUID(), o, func() (*rules.Object, error) { return rules.NewObject(o.Object), nil })
		return obj
	}
	return nil
}

// decodeItem reads an item of an informer's store as object does, without
// keeping it decoded: for event handlers, which see each version once.
func decodeItem(item any) *rules.Object {
	switch o := item.(type) {
	case *cachedObject:
		content, err := o.decode()
		if err != nil {
			return nil
		}
		return rules.NewObject(content)
	case *unstructured.Unstructured:
		return rules.NewObject(o.Object)
	}
	return nil
}

// Refs names every cached object of gk without decoding any.
func (idx *ClusterIndex) Refs(gk schema.GroupKind) []types.NamespacedName {
	k, ok := idx.kinds[gk]
	if !ok {
		return nil
	}
	keys := k.store.ListKeys()
	out := make([]types.NamespacedName, 0, len(keys))
	for _, key := range keys {
		if ns, name, err := toolscache.SplitMetaNamespaceKey(key); err == nil {
			out = append(out, types.NamespacedName{Namespace: ns, Name: name})
		}
	}
	return out
}

// Get implements rules.Index.
func (idx *ClusterIndex) Get(gk schema.GroupKind, namespace, name string) *rules.Object {
	k, ok := idx.kinds[gk]
	if !ok || name == "" {
		return nil
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	item, exists, err := k.store.GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	return idx.object(item)
}

// List implements rules.Index.
func (idx *ClusterIndex) List(gk schema.GroupKind, namespace string) []*rules.Object {
	if _, ok := idx.kinds[gk]; !ok {
		return nil // a kind not cached lists as nothing, not as empty
	}
	items := idx.items(gk, namespace)
	out := make([]*rules.Object, 0, len(items))
	for _, item := range items {
		if o := idx.object(item); o != nil {
			out = append(out, o)
		}
	}
	return out
}

// Walk implements rules.Walker: each object is decoded when its turn comes
// and, beyond the decoded-object bound, can be collected after fn returns,
// so a fact over a whole kind holds one object decoded, not the kind.
func (idx *ClusterIndex) Walk(gk schema.GroupKind, namespace string, fn func(*rules.Object)) {
	for _, item := range idx.items(gk, namespace) {
		if o := idx.object(item); o != nil {
			fn(o)
		}
	}
}

// items are the stored (compact) objects of gk in namespace ("" all).
func (idx *ClusterIndex) items(gk schema.GroupKind, namespace string) []any {
	k, ok := idx.kinds[gk]
	if !ok {
		return nil
	}
	if namespace == "" {
		return k.store.List()
	}
	items, err := k.store.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil
	}
	return items
}

// Version implements rules.Versioned: the sum of the kinds' event counts,
// which changes whenever any of them does.
func (idx *ClusterIndex) Version(kinds []schema.GroupKind) (any, uint64, bool) {
	var v uint64
	for _, gk := range kinds {
		if k, ok := idx.kinds[gk]; ok {
			v += k.version.Load()
		}
	}
	return idx, v, true
}

// Kinds implements rules.Index.
func (idx *ClusterIndex) Kinds() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(idx.kinds))
	for gk := range idx.kinds {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Serves reports whether the cluster serves and the index caches a kind.
func (idx *ClusterIndex) Serves(gk schema.GroupKind) bool {
	_, ok := idx.kinds[gk]
	return ok
}
