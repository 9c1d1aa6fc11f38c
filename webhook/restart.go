package webhook

import (
	"context"
	"encoding/json"
	"fmt"
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
)

// RestartController rolls the pods of workloads whose config changed: when
// a ConfigMap changes, it sets gjallar.dev/config-hash on every workload in
// the namespace that reads it to the value rules.DesiredConfigHash gives,
// which changes the pod template and rolls the pods. A workload whose hash
// is already right is left alone, so updates never loop.
//
// On its first look at a ConfigMap after starting (the initial listing, or
// after winning leader election) it only refreshes hashes that are present
// and stale: a workload that never carried a hash is running the config it
// started with, and installing gjallar must not restart it.
type RestartController struct {
	Client    client.Client
	APIReader client.Reader
	Index     rules.Index
	Engines   *EngineHolder
	Recorder  recorder.EventRecorder

	seen sync.Map // types.NamespacedName of ConfigMaps reconciled by this process
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
	_, seenBefore := r.seen.LoadOrStore(req.NamespacedName, true)
	cm := r.Index.Get(rules.ConfigMapKind, req.Namespace, req.Name)
	id := rules.ConfigRolloutHash.ID
	if cm == nil || !r.Engines.Load().Enabled(id) || r.namespaceIgnored(req.Namespace) {
		return reconcile.Result{}, nil
	}
	for _, gk := range rules.RolloutKinds {
		for _, w := range r.Index.List(gk, req.Namespace) {
			t, err := w.PodTemplate()
			if err != nil || t == nil || w.Suppressed(id) || !readsConfigMap(t, req.Name) {
				continue
			}
			want, _, ok := rules.DesiredConfigHash(w, r.Index)
			have, present := t.Meta.Annotations[rules.AnnotationConfigHash]
			if !ok || have == want || (!present && !seenBefore) {
				continue
			}
			if err := r.roll(ctx, gk, w, cm, want); err != nil {
				return reconcile.Result{}, err
			}
		}
	}
	return reconcile.Result{}, nil
}

// namespaceIgnored: a namespace labelled gjallar.dev/ignore=true is opted
// out of gjallar, for the restart controller as for the webhooks.
func (r *RestartController) namespaceIgnored(name string) bool {
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

// roll writes the new hash with the resourceVersion it was computed
// against, re-reading from the API server and retrying on conflict.
func (r *RestartController) roll(ctx context.Context, gk schema.GroupKind, w, cm *rules.Object, want string) error {
	key := types.NamespacedName{Namespace: w.Namespace(), Name: w.Name()}
	gvk := schema.FromAPIVersionAndKind(w.Ref().APIVersion, w.Ref().Kind)
	var rolled *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := r.APIReader.Get(ctx, key, u); err != nil {
			return err
		}
		fresh := rules.NewObject(u.Object)
		t, err := fresh.PodTemplate()
		if err != nil || t == nil || t.Meta.Annotations[rules.AnnotationConfigHash] == want {
			return err // changed meanwhile: nothing left to do
		}
		patch := nest(rules.ConfigHashPath(t), want).(map[string]any)
		patch["metadata"] = map[string]any{"resourceVersion": u.GetResourceVersion()}
		data, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		if err := r.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, data)); err != nil {
			return err
		}
		rolled = u
		return nil
	})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("rolling %s %s: %w", gk.Kind, key, err)
	}
	if rolled == nil {
		return nil
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
		cm.Name(), rules.AnnotationConfigHash, want)
	return nil
}
