package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// Rolling pods when a Secret changes. Bifrost configs often live in
// Secrets (they hold keys), and keys reach Bifrost as environment variables
// from Secrets; both are read once, when the container starts. With
// --watch-secrets the restart controller treats them as it treats
// ConfigMaps, with its own annotation:
//
//   - it watches Secret metadata only (the cache never holds a value), in
//     the namespaces it may read (--secret-namespaces) or everywhere;
//   - it reads a Secret's data, from the API server and without keeping
//     it, only when a workload reads that Secret and either opts in
//     (gjallar.dev/restart-on-config-change) or runs Bifrost (then the
//     Secrets its Bifrost containers mount or take environment from);
//   - it keeps gjallar.dev/secret-hash on such a workload's pod template at
//     rollout.ConfigHash over those Secrets' names and data (the function
//     of gjallar.dev/config-hash), and rolls the pods by changing it, with
//     the same guarantees: a stale hash is refreshed once, by whichever
//     replica leads; a workload without one is stamped only when its
//     Secret was seen to change (or, by the mutating webhook, when it is
//     created), so turning this on restarts nothing;
//   - names appear in logs and events, values and hashes of values never.
//
// A separate annotation, because lint and the validating webhook cannot see
// Secrets' values: folding them into gjallar.dev/config-hash would make the
// value lint --fix writes differ from the cluster's.

// AnnotationSecretHash carries the hash of the Secrets a workload reads.
const AnnotationSecretHash = "gjallar.dev/secret-hash"

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

// SecretWatch lets the restart controller (and the mutating webhook) see
// Secrets.
type SecretWatch struct {
	// Cache holds Secret metadata only, in Namespaces.
	Cache cache.Cache
	// Reader reads a Secret with its data from the API server.
	Reader client.Reader
	// Namespaces are those whose Secrets may be read; empty for all.
	Namespaces []string

	// contents remembers, per Secret a watched workload reads, the hash of
	// its data the last time it was reconciled.
	contents sync.Map // types.NamespacedName -> string
}

// NewSecretWatch makes the metadata-only Secret cache for namespaces (all
// when empty); the caller starts it (it is a manager.Runnable).
func NewSecretWatch(cfg *rest.Config, opts cache.Options, apiReader client.Reader, namespaces []string) (*SecretWatch, error) {
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	opts.DefaultTransform = cache.TransformStripManagedFields()
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("Secret metadata cache: %w", err)
	}
	return &SecretWatch{Cache: c, Reader: apiReader, Namespaces: namespaces}, nil
}

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(secretGVK)
	return m
}

// Prepare starts the metadata informer, so the cache syncs it before the
// replica is ready.
func (s *SecretWatch) Prepare(ctx context.Context) error {
	_, err := s.Cache.GetInformer(ctx, secretMetadata())
	return err
}

func (s *SecretWatch) inScope(namespace string) bool {
	return len(s.Namespaces) == 0 || slices.Contains(s.Namespaces, namespace)
}

// watch adds a term's sources: every Secret's metadata, and every workload,
// which names the Secrets it reads (so that a Secret becomes known when a
// workload starts reading it, and its next change counts as one).
func (s *SecretWatch) watch(ctl controller.TypedController[restartKey], main cache.Cache, r *RestartController) error {
	err := ctl.Watch(termSource(s.Cache, secretMetadata(), func(_, o client.Object) []restartKey {
		return []restartKey{{Secret: true, NamespacedName: client.ObjectKeyFromObject(o)}}
	}))
	if err != nil {
		return err
	}
	for _, gk := range rules.RolloutKinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gk.WithVersion("v1"))
		err := ctl.Watch(termSource(main, u, func(old, o client.Object) []restartKey {
			if !s.inScope(o.GetNamespace()) || (old != nil && sameForRules(old, o)) {
				return nil // status updates change no reference
			}
			w := decodeItem(o) // the cache holds it compactly (cache.go)
			if w == nil {
				return nil
			}
			var keys []restartKey
			for _, ref := range watchedSecretRefs(w) {
				keys = append(keys, restartKey{Secret: true, NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.name}})
			}
			return keys
		}))
		if err != nil {
			return err
		}
	}
	return nil
}

// reconcile rolls the workloads that read one Secret, when its data
// changed or their hash is stale.
func (s *SecretWatch) reconcile(ctx context.Context, r *RestartController, key types.NamespacedName) error {
	id := kubechecks.ConfigRolloutHash.ID
	if !s.inScope(key.Namespace) || !r.Engines.Load().Enabled(id) || r.namespaceExcluded(key.Namespace) {
		return nil
	}
	var readers []*rules.Object
	for _, gk := range rules.RolloutKinds {
		for _, w := range r.Index.List(gk, key.Namespace) {
			if !w.Suppressed(id) && slices.ContainsFunc(watchedSecretRefs(w), func(ref secretRef) bool { return ref.name == key.Name }) {
				readers = append(readers, w)
			}
		}
	}
	if len(readers) == 0 {
		s.contents.Delete(key) // nobody reads it: its data is not read
		return nil
	}
	reads := &secretReads{watch: s, ctx: ctx, namespace: key.Namespace}
	secret := reads.get(key.Name)
	if reads.err != nil {
		return reads.err
	}
	if secret == nil {
		s.contents.Delete(key)
		return nil
	}
	content := rollout.ConfigHash([]*rules.Object{secret})
	prev, known := s.contents.Load(key)
	changed := known && prev.(string) != content
	var errs []error
	for _, w := range readers {
		t, err := w.PodTemplate()
		if err != nil || t == nil {
			continue
		}
		want, ok := reads.desiredHash(w)
		have, present := t.Meta.Annotations[AnnotationSecretHash]
		if reads.err != nil {
			return reads.err
		}
		if !ok || have == want || (!present && !changed) {
			continue
		}
		// Recomputed from the workload as it is now, with fresh reads.
		rolled, _, err := r.setTemplateHash(ctx, w.GroupKind(), w, AnnotationSecretHash, !present, func(fresh *rules.Object) (string, bool) {
			again := &secretReads{watch: s, ctx: ctx, namespace: key.Namespace}
			h, ok := again.desiredHash(fresh)
			return h, ok && again.err == nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rolled == nil {
			continue
		}
		restartsTotal.WithLabelValues(w.GroupKind().Kind).Inc()
		log.FromContext(ctx).Info("rolled workload for a Secret change", "kind", w.GroupKind().Kind, "workload", key.Namespace+"/"+w.Name(), "secret", key.Name)
		related := &unstructured.Unstructured{}
		related.SetGroupVersionKind(secretGVK)
		related.SetNamespace(key.Namespace)
		related.SetName(key.Name)
		related.SetUID(types.UID(rules.LookupString(secret.Content, "metadata", "uid")))
		r.Recorder.Eventf(rolled, related, corev1.EventTypeNormal, "SecretChanged", "RollPods",
			"Secret %s changed; updated %s so the pods restart with it", key.Name, AnnotationSecretHash)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.contents.Store(key, content)
	return nil
}

// secretReadTimeout bounds one live Secret read.
const secretReadTimeout = 5 * time.Second

// secretReads reads a namespace's Secrets live, each at most once.
type secretReads struct {
	watch     *SecretWatch
	ctx       context.Context
	namespace string
	read      map[string]*rules.Object
	err       error // a read failed for a reason other than absence
}

func (s *secretReads) get(name string) *rules.Object {
	if o, ok := s.read[name]; ok {
		return o
	}
	if s.read == nil {
		s.read = map[string]*rules.Object{}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(secretGVK)
	ctx, cancel := context.WithTimeout(s.ctx, secretReadTimeout)
	defer cancel()
	// client-go logs response bodies at V(8) to the context's logger, and
	// a Secret's body is its values: this read logs nothing.
	ctx = log.IntoContext(ctx, logr.Discard())
	err := s.watch.Reader.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, u)
	switch {
	case apierrors.IsNotFound(err):
		s.read[name] = nil
		return nil
	case err != nil:
		// The error names the Secret, never its content.
		s.err = fmt.Errorf("reading Secret %s/%s: %w", s.namespace, name, err)
		return nil
	}
	// Only what the hash covers is kept: the name and the data.
	o := rules.NewObject(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": u.GetName(), "namespace": u.GetNamespace(), "uid": string(u.GetUID())},
		"data":     u.Object["data"],
	})
	s.read[name] = o
	return o
}

// desiredHash is the secret hash the workload should carry; ok is false
// when it reads no watched Secret or one it needs is missing.
func (s *secretReads) desiredHash(w *rules.Object) (string, bool) {
	var secrets []*rules.Object
	for _, ref := range watchedSecretRefs(w) {
		o := s.get(ref.name)
		switch {
		case s.err != nil:
			return "", false
		case o == nil && ref.optional:
			continue
		case o == nil:
			return "", false
		}
		secrets = append(secrets, o)
	}
	if len(secrets) == 0 {
		return "", false
	}
	return rollout.ConfigHash(secrets), true
}

// stampOnCreate is the mutating webhook's part: a workload created reading
// watched Secrets gets its secret hash at once (no pods run yet, so nothing
// rolls), so that the Secrets' later changes roll it even across
// restarts of the controller. ok is false when there is nothing to stamp
// or a read failed (the controller stamps it on the next change).
func (s *SecretWatch) stampOnCreate(ctx context.Context, obj *rules.Object) (jsonpatch.Operation, bool) {
	if !s.inScope(obj.Namespace()) || len(watchedSecretRefs(obj)) == 0 {
		return jsonpatch.Operation{}, false
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return jsonpatch.Operation{}, false
	}
	reads := &secretReads{watch: s, ctx: ctx, namespace: obj.Namespace()}
	want, ok := reads.desiredHash(obj)
	if !ok || t.Meta.Annotations[AnnotationSecretHash] == want {
		return jsonpatch.Operation{}, false
	}
	return setField(obj.Content, t.Path.Child("metadata", "annotations", AnnotationSecretHash), want), true
}

// secretRef is a Secret a pod template reads.
type secretRef struct {
	name     string
	optional bool
}

// watchedSecretRefs lists the Secrets whose change should roll the
// workload: all it reads when it opts in with
// gjallar.dev/restart-on-config-change, else those its Bifrost containers
// mount or take environment from; none for other workloads.
func watchedSecretRefs(w *rules.Object) []secretRef {
	if !slices.Contains(rules.RolloutKinds, w.GroupKind()) {
		return nil
	}
	t, err := w.PodTemplate()
	if err != nil || t == nil {
		return nil
	}
	optIn := strings.EqualFold(w.Annotations()[rollout.AnnotationRestartOnChange], "true") ||
		strings.EqualFold(t.Meta.Annotations[rollout.AnnotationRestartOnChange], "true")
	var containers []rules.ContainerAt
	if optIn {
		containers = t.Containers()
	} else {
		for _, c := range bifrost.Containers(t) {
			containers = append(containers, c.ContainerAt)
		}
	}
	if len(containers) == 0 {
		return nil
	}
	var out []secretRef
	add := func(name string, optional *bool) {
		if name == "" {
			return
		}
		opt := ptr.Deref(optional, false)
		for i := range out {
			if out[i].name == name {
				out[i].optional = out[i].optional && opt
				return
			}
		}
		out = append(out, secretRef{name: name, optional: opt})
	}
	mounted := map[string]bool{}
	for _, c := range containers {
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = true
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				add(ef.SecretRef.Name, ef.SecretRef.Optional)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
			}
		}
	}
	for _, v := range t.Spec.Volumes {
		if !optIn && !mounted[v.Name] {
			continue
		}
		if v.Secret != nil {
			add(v.Secret.SecretName, v.Secret.Optional)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(src.Secret.Name, src.Secret.Optional)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b secretRef) int { return strings.Compare(a.name, b.name) })
	return out
}
