package webhook

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
)

// IndexedKinds are the kinds the webhook caches for cross-object rules.
// Secrets are left out on purpose: caching every Secret would need
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
type ClusterIndex struct {
	reader client.Reader
	kinds  map[schema.GroupKind]schema.GroupVersionKind

	// objects keeps each cached object's rules.Object wrapper while its
	// resourceVersion is unchanged, so derived views (parsed Bifrost
	// configs, typed pod templates) are computed once per version rather
	// than once per admission request.
	mu      sync.Mutex
	objects map[types.UID]*wrapped

	// versions counts the informer events of each cached kind, so that
	// facts the rules derive from a kind (rules.Context.SharedOver) are
	// kept across admission requests until it changes. Kinds not cached
	// have no counter: the index never holds any, so they never change.
	versions map[schema.GroupKind]*atomic.Uint64
}

type wrapped struct {
	resourceVersion string
	obj             *rules.Object
}

// NewClusterIndex resolves each wanted kind to the version the API server
// serves and starts an informer for it; kinds that are not served are
// skipped and reported in the returned list.
func NewClusterIndex(ctx context.Context, c cache.Cache, mapper meta.RESTMapper, kinds []schema.GroupKind) (*ClusterIndex, []schema.GroupKind, error) {
	idx := &ClusterIndex{reader: c, kinds: map[schema.GroupKind]schema.GroupVersionKind{}, objects: map[types.UID]*wrapped{},
		versions: map[schema.GroupKind]*atomic.Uint64{}}
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
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(m.GroupVersionKind)
		inf, err := c.GetInformer(ctx, u)
		if err != nil {
			return nil, nil, fmt.Errorf("informer for %s: %w", gk, err)
		}
		// Count every change; forget wrappers of deleted objects. The
		// informer updates its store before it calls handlers, so a fact
		// computed in between is stored under the old count and computed
		// again after the increment.
		version := &atomic.Uint64{}
		idx.versions[gk] = version
		_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { version.Add(1) },
			UpdateFunc: func(any, any) { version.Add(1) },
			DeleteFunc: func(obj any) { version.Add(1); idx.forget(obj) },
		})
		if err != nil {
			return nil, nil, err
		}
		idx.kinds[gk] = m.GroupVersionKind
	}
	return idx, missing, nil
}

func (idx *ClusterIndex) forget(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if o, ok := obj.(client.Object); ok {
		idx.mu.Lock()
		delete(idx.objects, o.GetUID())
		idx.mu.Unlock()
	}
}

func (idx *ClusterIndex) wrap(u *unstructured.Unstructured) *rules.Object {
	uid, rv := u.GetUID(), u.GetResourceVersion()
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if w, ok := idx.objects[uid]; ok && w.resourceVersion == rv {
		return w.obj
	}
	o := rules.NewObject(u.Object)
	if uid != "" {
		idx.objects[uid] = &wrapped{resourceVersion: rv, obj: o}
	}
	return o
}

// lookupTimeout bounds a cache read; reads are in memory once the caches
// have synced (the webhook is not ready before), so this only matters if
// an informer stalls.
const lookupTimeout = 2 * time.Second

// Get implements rules.Index.
func (idx *ClusterIndex) Get(gk schema.GroupKind, namespace, name string) *rules.Object {
	gvk, ok := idx.kinds[gk]
	if !ok || name == "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if err := idx.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		return nil
	}
	return idx.wrap(u)
}

// List implements rules.Index.
func (idx *ClusterIndex) List(gk schema.GroupKind, namespace string) []*rules.Object {
	gvk, ok := idx.kinds[gk]
	if !ok {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	var opts []client.ListOption
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	if err := idx.reader.List(ctx, list, opts...); err != nil {
		return nil
	}
	out := make([]*rules.Object, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, idx.wrap(&list.Items[i]))
	}
	return out
}

// Version implements rules.Versioned: the sum of the kinds' event counts,
// which changes whenever any of them does.
func (idx *ClusterIndex) Version(kinds []schema.GroupKind) (any, uint64, bool) {
	var v uint64
	for _, gk := range kinds {
		if c, ok := idx.versions[gk]; ok {
			v += c.Load()
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
