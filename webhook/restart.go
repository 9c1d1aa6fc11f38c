package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/gjallar-dev/gjallar/rules"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// RestartController rolls the pods of workloads whose config changed: when
// a ConfigMap's data changes, it sets gjallar.dev/config-hash on every
// workload in the namespace that reads it to the value
// rollout.DesiredConfigHash gives, which changes the pod template and rolls
// the pods. A workload whose hash is already right is left alone, so
// updates never loop.
//
// A workload that carries a stale hash is always refreshed. One that never
// carried a hash is only stamped when this process has seen the ConfigMap's
// data change: a workload without a hash runs the config it started with,
// so neither installing gjallar, nor a restart, a leader change, a resync or
// a metadata-only edit of the ConfigMap restarts it.
type RestartController struct {
	Client    client.Client
	APIReader client.Reader
	Index     rules.Index
	Engines   *EngineHolder
	Recorder  recorder.EventRecorder
	// ExcludedNamespaces are never touched, like the webhooks'
	// namespaceSelector (kube-system, gjallar's own namespace, ...).
	ExcludedNamespaces []string

	// Secrets, when set, makes the controller roll workloads when the
	// Secrets they read change, too (secrets.go).
	Secrets *SecretWatch

	// contents remembers, per ConfigMap, the hash of its data the last time
	// it was reconciled successfully. It outlives leadership terms.
	contents sync.Map // types.NamespacedName -> string
}

var configMapGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")

// restartKey is what the restart controller reconciles: a ConfigMap, or a
// Secret when Secrets are watched.
type restartKey struct {
	Secret bool
	types.NamespacedName
}

// RunTerm runs the controller for one leadership term, until ctx ends. A
// term starts from every cached ConfigMap (and watched Secret), so changes
// made while no replica led are rolled by the next leader.
func (r *RestartController) RunTerm(ctx context.Context, c cache.Cache) error {
	ctl, err := controller.NewTypedUnmanaged[restartKey]("gjallar-config-restart", controller.TypedOptions[restartKey]{
		Reconciler:         r,
		SkipNameValidation: ptr.To(true), // one controller per term, all of the same name
		// An unmanaged controller has no logger of its own: without this its
		// reconciles log nothing, the rolls included.
		Logger: log.FromContext(ctx),
	})
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{}
	cm.SetGroupVersionKind(configMapGVK)
	if err := ctl.Watch(termSource(c, cm, func(_, o client.Object) []restartKey {
		return []restartKey{{NamespacedName: client.ObjectKeyFromObject(o)}}
	})); err != nil {
		return err
	}
	// A workload that arrives carrying a stale hash (stamped by a replica
	// whose cache lagged, or applied while the mutating webhook was
	// skipped) is re-stamped now, not at its ConfigMap's next change.
	for _, gk := range rules.RolloutKinds {
		w := &unstructured.Unstructured{}
		w.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(gk.Kind))
		if err := ctl.Watch(termSource(c, w, configMapsOfStamped)); err != nil {
			return err
		}
	}
	if r.Secrets != nil {
		if err := r.Secrets.watch(ctl, c, r); err != nil {
			return err
		}
	}
	return ctl.Start(ctx)
}

// configMapsOfStamped names the ConfigMaps a workload reads when it carries
// a config hash and was created or changed in more than what the cache
// drops; the reconcile of each re-stamps the hash if it is stale.
func configMapsOfStamped(old, cur client.Object) []restartKey {
	if old != nil && sameForRules(old, cur) {
		return nil
	}
	obj := decodeItem(cur)
	if obj == nil {
		return nil
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return nil
	}
	if _, present := t.Meta.Annotations[rollout.AnnotationConfigHash]; !present {
		return nil // the controller stamps a workload without a hash only when its config changes
	}
	var keys []restartKey
	for _, ref := range t.ConfigMapRefs() {
		keys = append(keys, restartKey{NamespacedName: types.NamespacedName{Namespace: cur.GetNamespace(), Name: ref.Name}})
	}
	return keys
}

// termSource feeds a term's controller from a shared informer: every
// cached object at the start, then each change, until the term ends, when
// its handler is removed (the informer outlives terms). keys gets the
// previous version of an updated object, nil otherwise.
func termSource[T comparable](c cache.Cache, obj client.Object, keys func(old, cur client.Object) []T) source.TypedSource[T] {
	return source.TypedFunc[T](func(ctx context.Context, q workqueue.TypedRateLimitingInterface[T]) error {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		enqueue := func(old, o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			prev, _ := old.(client.Object)
			if obj, ok := o.(client.Object); ok {
				for _, k := range keys(prev, obj) {
					q.Add(k)
				}
			}
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { enqueue(nil, o) },
			UpdateFunc: enqueue,
			DeleteFunc: func(o any) { enqueue(nil, o) },
		})
		if err != nil {
			return err
		}
		context.AfterFunc(ctx, func() { inf.RemoveEventHandler(reg) })
		return nil
	})
}

// Reconcile implements reconcile.TypedReconciler.
func (r *RestartController) Reconcile(ctx context.Context, key restartKey) (reconcile.Result, error) {
	if key.Secret {
		return reconcile.Result{}, r.Secrets.reconcile(ctx, r, key.NamespacedName)
	}
	return r.reconcileConfigMap(ctx, reconcile.Request{NamespacedName: key.NamespacedName})
}

// reconcileConfigMap rolls the workloads that read one ConfigMap.
func (r *RestartController) reconcileConfigMap(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cm := r.Index.Get(rules.ConfigMapKind, req.Namespace, req.Name)
	id := kubechecks.ConfigRolloutHash.ID
	if cm == nil {
		r.contents.Delete(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	if !r.Engines.Load().Enabled(id) || r.namespaceExcluded(req.Namespace) {
		return reconcile.Result{}, nil
	}
	content := rollout.ConfigHash([]*rules.Object{cm})
	prev, known := r.contents.Load(req.NamespacedName)
	changed := known && prev.(string) != content
	var errs []error
	for _, gk := range rules.RolloutKinds {
		for _, w := range r.Index.List(gk, req.Namespace) {
			t, err := w.PodTemplate()
			if err != nil || t == nil || w.Suppressed(id) || !readsConfigMap(t, req.Name) {
				continue
			}
			want, _, ok := rollout.DesiredConfigHash(w, r.Index)
			have, present := t.Meta.Annotations[rollout.AnnotationConfigHash]
			if !ok || have == want || (!present && !changed) {
				continue
			}
			if err := r.roll(ctx, gk, w, cm, !present); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return reconcile.Result{}, errors.Join(errs...)
	}
	r.contents.Store(req.NamespacedName, content)
	return reconcile.Result{}, nil
}

// namespaceExcluded: gjallar leaves alone the namespaces its webhooks skip,
// and any namespace labelled gjallar.dev/ignore=true.
func (r *RestartController) namespaceExcluded(name string) bool {
	if slices.Contains(r.ExcludedNamespaces, name) {
		return true
	}
	ns := r.Index.Get(schema.GroupKind{Kind: "Namespace"}, "", name)
	return ns != nil && rules.LookupString(ns.Content, "metadata", "labels", IgnoreNamespaceLabel) == "true"
}

// IgnoreNamespaceLabel opts a namespace out of gjallar.
const IgnoreNamespaceLabel = "gjallar.dev/ignore"

func readsConfigMap(t *rules.PodTemplate, name string) bool {
	for _, ref := range t.ConfigMapRefs() {
		if ref.Name == name {
			return true
		}
	}
	return false
}

// errNotApplied: the hash written did not stick (a webhook replica whose
// cache lagged wrote another value back); the ConfigMap is requeued.
var errNotApplied = errors.New("the new hash did not stick")

// roll writes the config hash the workload should carry and records why.
func (r *RestartController) roll(ctx context.Context, gk schema.GroupKind, w, cm *rules.Object, stampMissing bool) error {
	rolled, want, err := r.setTemplateHash(ctx, gk, w, rollout.AnnotationConfigHash, stampMissing,
		func(fresh *rules.Object) (string, bool) {
			want, _, ok := rollout.DesiredConfigHash(fresh, r.Index)
			return want, ok
		})
	if err != nil || rolled == nil {
		return err
	}
	restartsTotal.WithLabelValues(gk.Kind).Inc()
	log.FromContext(ctx).Info("rolled workload for a config change", "kind", gk.Kind, "workload", w.Ref().Namespace+"/"+w.Name(), "configMap", cm.Name())
	related := &unstructured.Unstructured{}
	related.SetGroupVersionKind(configMapGVK)
	related.SetNamespace(cm.Namespace())
	related.SetName(cm.Name())
	related.SetUID(types.UID(rules.LookupString(cm.Content, "metadata", "uid")))
	r.Recorder.Eventf(rolled, related, corev1.EventTypeNormal, "ConfigChanged", "RollPods",
		"ConfigMap %s changed; set %s to %s so the pods restart with the new config",
		cm.Name(), rollout.AnnotationConfigHash, want)
	return nil
}

// setTemplateHash writes annotation on the workload's pod template to the
// value desired computes from the workload as the API server has it now,
// with its resourceVersion as a precondition; conflicts are retried. It
// then checks the written object to make sure the value stuck.
// stampMissing allows adding the annotation to a workload without one (the
// data it covers was seen to change). rolled is nil when nothing was
// written (already right, gone, or no longer covered).
func (r *RestartController) setTemplateHash(ctx context.Context, gk schema.GroupKind, w *rules.Object, annotation string, stampMissing bool,
	desired func(fresh *rules.Object) (string, bool)) (rolled *unstructured.Unstructured, want string, err error) {
	key := types.NamespacedName{Namespace: w.Namespace(), Name: w.Name()}
	gvk := schema.FromAPIVersionAndKind(w.Ref().APIVersion, w.Ref().Kind)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rolled = nil
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := r.APIReader.Get(ctx, key, u); err != nil {
			return err
		}
		fresh := rules.NewObject(u.Object)
		t, err := fresh.PodTemplate()
		if err != nil || t == nil {
			return err
		}
		var ok bool
		want, ok = desired(fresh)
		have, present := t.Meta.Annotations[annotation]
		if !ok || have == want || (!present && !stampMissing) {
			return nil // changed meanwhile: nothing left to do
		}
		patch := nest(t.Path.Child("metadata", "annotations", annotation), want).(map[string]any)
		patch["metadata"] = map[string]any{"resourceVersion": u.GetResourceVersion()}
		data, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		if err := r.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, data), client.FieldOwner("gjallar")); err != nil {
			return err
		}
		rolled = u
		return nil
	})
	if apierrors.IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("rolling %s %s: %w", gk.Kind, key, err)
	}
	if rolled == nil {
		return nil, "", nil
	}
	if got, _, _ := unstructured.NestedString(rolled.Object, "spec", "template", "metadata", "annotations", annotation); got != want {
		return nil, "", fmt.Errorf("%s %s: %w (%s: have %q, want %q)", gk.Kind, key, errNotApplied, annotation, got, want)
	}
	return rolled, want, nil
}
