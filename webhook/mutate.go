package webhook

import (
	"context"
	"net/http"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/rules"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// Mutator stamps gjallar.dev/config-hash on workload pod templates, the
// value lint --fix writes, computed by the same function from the
// ConfigMaps in the cluster. It never changes anything else.
type Mutator struct {
	Engines *EngineHolder
	Index   rules.Index
	// Live reads ConfigMaps from the API server. It settles disagreements:
	// when the object carries a hash that differs from what the cache
	// gives, the cache may be behind (the restart controller, on another
	// replica, has just written a hash for a ConfigMap change this
	// replica has not seen yet), so the hash is recomputed from live data
	// rather than overwritten with a stale one.
	Live client.Reader
	// Secrets, when set, stamps the secret hash on workloads created
	// reading watched Secrets (secrets.go).
	Secrets *SecretWatch
}

// Handle implements admission.Handler.
func (m *Mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	return observe("mutate", req, func() admission.Response {
		obj, err := decodeObject(req)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		id := kubechecks.ConfigRolloutHash.ID
		if !m.Engines.Load().Enabled(id) || obj.Suppressed(id) {
			return admission.Allowed("")
		}
		var ops []jsonpatch.Operation
		if op, ok := m.configHash(ctx, obj); ok {
			ops = append(ops, op)
		}
		if m.Secrets != nil && req.Operation == admissionv1.Create {
			if op, ok := m.Secrets.stampOnCreate(ctx, obj); ok {
				ops = append(ops, op)
			}
		}
		if len(ops) == 0 {
			return admission.Allowed("")
		}
		return admission.Patched("stamped "+rollout.AnnotationConfigHash, ops...)
	})
}

// configHash is the patch that sets the config hash, if one is due.
func (m *Mutator) configHash(ctx context.Context, obj *rules.Object) (jsonpatch.Operation, bool) {
	hash, _, ok := rollout.DesiredConfigHash(obj, rules.Overlay(m.Index, obj))
	if !ok && m.Live != nil && m.readsUncached(obj) {
		// A ConfigMap it reads is not in the cache (yet): created a moment
		// ago, as `kubectl apply` creates a ConfigMap and its Deployment
		// together. Ask the API server rather than leave the hash out.
		idx, done := readLive(ctx, m.Index, m.Live, obj)
		defer done()
		hash, _, ok = rollout.DesiredConfigHash(obj, idx)
		ok = ok && !idx.failed
	}
	if !ok {
		return jsonpatch.Operation{}, false
	}
	t, _ := obj.PodTemplate()
	have, present := t.Meta.Annotations[rollout.AnnotationConfigHash]
	if have == hash {
		return jsonpatch.Operation{}, false
	}
	if present && m.Live != nil {
		idx, done := readLive(ctx, m.Index, m.Live, obj)
		defer done()
		live, _, ok := rollout.DesiredConfigHash(obj, idx)
		if idx.failed || (ok && live == have) {
			// Unsure (the API server is slow or unreachable) or the
			// object is right: leave its hash alone rather than risk
			// writing a stale one; the restart controller settles it.
			return jsonpatch.Operation{}, false
		}
		if ok {
			hash = live
		}
	}
	return setField(obj.Content, rollout.ConfigHashPath(t), hash), true
}

// readsUncached reports whether the workload reads a ConfigMap the cache
// does not hold.
func (m *Mutator) readsUncached(obj *rules.Object) bool {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return false
	}
	for _, ref := range t.ConfigMapRefs() {
		if m.Index.Get(rules.ConfigMapKind, obj.Namespace(), ref.Name) == nil {
			return true
		}
	}
	return false
}

// liveConfigMaps reads ConfigMaps from the API server and everything else
// from the wrapped index.
type liveConfigMaps struct {
	rules.Index
	reader client.Reader
	ctx    context.Context
	failed bool // a read failed for a reason other than absence
}

// readLive is the index of one admission request with its ConfigMaps read
// from the API server, within liveReadTimeout; done releases it.
func readLive(ctx context.Context, index rules.Index, reader client.Reader, obj *rules.Object) (idx *liveConfigMaps, done func()) {
	lctx, cancel := context.WithTimeout(ctx, liveReadTimeout)
	return &liveConfigMaps{Index: rules.Overlay(index, obj), reader: reader, ctx: lctx}, cancel
}

// liveReadTimeout bounds the live reads of one admission request, so a
// burst of re-applied workloads cannot queue admission behind the API
// server.
const liveReadTimeout = time.Second

func (l *liveConfigMaps) Get(gk schema.GroupKind, namespace, name string) *rules.Object {
	if gk != rules.ConfigMapKind {
		return l.Index.Get(gk, namespace, name)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(configMapGVK)
	if err := l.reader.Get(l.ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		if !apierrors.IsNotFound(err) {
			l.failed = true
		}
		return nil
	}
	return rules.NewObject(u.Object)
}

// setField is the JSON Patch operation that sets path to value, creating
// the missing parents in one "add" of a nested object (a JSON Patch add
// cannot create intermediate members).
func setField(content map[string]any, path rules.Path, value any) jsonpatch.Operation {
	var cur any = content
	for i, tok := range path {
		m, _ := cur.(map[string]any)
		next, ok := m[tok]
		if !ok || next == nil || i == len(path)-1 {
			return jsonpatch.Operation{Operation: "add", Path: path[:i+1].Pointer(), Value: nest(path[i+1:], value)}
		}
		cur = next
	}
	return jsonpatch.Operation{Operation: "add", Path: path.Pointer(), Value: value}
}

func nest(path rules.Path, value any) any {
	for i := len(path) - 1; i >= 0; i-- {
		value = map[string]any{path[i]: value}
	}
	return value
}
