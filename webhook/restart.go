package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

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

	// contents remembers, per ConfigMap, the hash of its data the last time
	// it was reconciled successfully.
	contents sync.Map // types.NamespacedName -> string
}

var configMapGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")

// SetupWithManager registers the controller; it runs only on the leader.
func (r *RestartController) SetupWithManager(mgr ctrl.Manager) error {
	cm := &unstructured.Unstructured{}
	cm.SetGroupVersionKind(configMapGVK)
	return ctrl.NewControllerManagedBy(mgr).Named("gjallar-config-restart").For(cm).Complete(r)
}

// Reconcile implements reconcile.Reconciler for one ConfigMap.
func (r *RestartController) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
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
var errNotApplied = errors.New("the new config hash did not stick")

// roll writes the hash the workload should carry, recomputed from the
// workload as the API server has it now, with its resourceVersion as a
// precondition; conflicts are retried. It then reads the workload back to
// make sure the value stuck. stampMissing allows stamping a workload
// without a hash (the ConfigMap's data changed).
func (r *RestartController) roll(ctx context.Context, gk schema.GroupKind, w, cm *rules.Object, stampMissing bool) error {
	key := types.NamespacedName{Namespace: w.Namespace(), Name: w.Name()}
	gvk := schema.FromAPIVersionAndKind(w.Ref().APIVersion, w.Ref().Kind)
	var rolled *unstructured.Unstructured
	var want string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
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
		want, _, ok = rollout.DesiredConfigHash(fresh, r.Index)
		have, present := t.Meta.Annotations[rollout.AnnotationConfigHash]
		if !ok || have == want || (!present && !stampMissing) {
			return nil // changed meanwhile: nothing left to do
		}
		patch := nest(rollout.ConfigHashPath(t), want).(map[string]any)
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
	if apierrors.IsNotFound(err) || (err == nil && rolled == nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rolling %s %s: %w", gk.Kind, key, err)
	}
	if got, _, _ := unstructured.NestedString(rolled.Object, "spec", "template", "metadata", "annotations", rollout.AnnotationConfigHash); got != want {
		return fmt.Errorf("%s %s: %w (have %q, want %q)", gk.Kind, key, errNotApplied, got, want)
	}
	restartsTotal.WithLabelValues(gk.Kind).Inc()
	log.FromContext(ctx).Info("rolled workload for a config change", "kind", gk.Kind, "workload", key.String(), "configMap", cm.Name())
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
