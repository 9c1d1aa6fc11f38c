// Package webhook is gjallar's in-cluster door: admission handlers that run
// the same rule engine as `gjallar lint` against the cluster's cache, the
// restart controller that rolls pods when their config changes, and the
// manager around them (certificates, probes, metrics, config reload). It is
// the only package that knows about AdmissionReview and the cluster.
package webhook

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/rules"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// EngineHolder holds the engine in use; a config reload swaps it without
// stopping the handlers.
type EngineHolder struct{ p atomic.Pointer[rules.Engine] }

// NewEngineHolder starts with e.
func NewEngineHolder(e *rules.Engine) *EngineHolder {
	h := &EngineHolder{}
	h.p.Store(e)
	return h
}

func (h *EngineHolder) Load() *rules.Engine   { return h.p.Load() }
func (h *EngineHolder) Store(e *rules.Engine) { h.p.Store(e) }

// decodeObject reads the object under review the way the API server's JSON
// reads: integers stay integers. A namespaced object created with
// `kubectl apply -n` may carry its namespace only in the request.
func decodeObject(req admission.Request) (*rules.Object, error) {
	if len(req.Object.Raw) == 0 {
		return nil, fmt.Errorf("request has no object")
	}
	var content map[string]any
	if err := utiljson.Unmarshal(req.Object.Raw, &content); err != nil {
		return nil, fmt.Errorf("object is not JSON: %w", err)
	}
	if content == nil {
		return nil, fmt.Errorf("object is not a JSON object")
	}
	if req.Namespace != "" {
		meta, _ := content["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			content["metadata"] = meta
		}
		if ns, _ := meta["namespace"].(string); ns == "" {
			meta["namespace"] = req.Namespace
		}
	}
	return rules.NewObject(content), nil
}

// Validator answers validating admission: error findings deny, warnings
// come back as admission warnings (kubectl prints them), info findings are
// dropped. Dry-run requests get the same answer; it has no side effects.
type Validator struct {
	Engines *EngineHolder
	Index   rules.Index
	// Live, when set, confirms a stale config hash with the API server
	// before it is reported (settleConfigHash).
	Live client.Reader
}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	return observe("validate", req, func() admission.Response {
		obj, err := decodeObject(req)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if rules.LookupString(obj.Content, "metadata", "deletionTimestamp") != "" {
			// Removing finalizers from an object on its way out must not be
			// blocked by what is wrong with it.
			return admission.Allowed("")
		}
		if req.Operation == admissionv1.Update && onlyConfigHashChanged(req.OldObject.Raw, obj.Content) {
			// The restart controller's roll (or anyone's) changes only the
			// hash, which the mutating webhook has just set right; older
			// problems of the workload must not stop its pods from rolling.
			return admission.Allowed("")
		}
		engine := v.Engines.Load()
		findings := engine.NewRun(rules.Overlay(v.Index, obj)).Check(obj)
		findings = v.settleConfigHash(ctx, engine, obj, findings)
		for _, f := range findings {
			label := f.Rule
			if !engine.Known(label) {
				label = "other" // an ID a policy made up at run time: no label per value
			}
			findingsTotal.WithLabelValues(label, f.Severity.String()).Inc()
		}
		denial, warnings := Verdict(obj.Ref(), findings)
		if denial != "" {
			return admission.Denied(denial).WithWarnings(warnings...)
		}
		return admission.Allowed("").WithWarnings(warnings...)
	})
}

// settleConfigHash judges a stale config hash the way the cluster sees
// it. In the cluster the hash is not the user's to keep: the mutating
// webhook stamped it a moment ago from its replica's cache, and the
// restart controller re-stamps any stale hash it finds (rolling the pods).
// So a hash this replica's cache calls stale means two caches disagree
// (one lags after a watch broke) more often than a real mistake. It is
// checked against the API server: when the object's hash is the live one,
// the finding is dropped; otherwise, or when the API server cannot say,
// it is a warning, never a denial.
func (v *Validator) settleConfigHash(ctx context.Context, engine *rules.Engine, obj *rules.Object, findings []rules.Finding) []rules.Finding {
	if v.Live == nil {
		return findings
	}
	stale := func(f rules.Finding) bool {
		return f.Rule == kubechecks.ConfigRolloutHash.ID && f.Severity == rules.Error
	}
	i := slices.IndexFunc(findings, stale)
	if i < 0 {
		return findings
	}
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return findings
	}
	if _, present := t.Meta.Annotations[rollout.AnnotationConfigHash]; !present {
		return findings // a missing hash is the mutating webhook's to stamp
	}
	out := slices.Clone(findings)
	idx, done := readLive(ctx, v.Index, v.Live, obj)
	defer done()
	live := engine.NewRun(idx).Check(obj)
	switch j := slices.IndexFunc(live, stale); {
	case idx.failed:
		out[i].Message += "; the API server could not confirm it, and the restart controller re-stamps a stale hash"
	case j < 0:
		return slices.Delete(out, i, i+1)
	default:
		out[i] = live[j]
		out[i].Message += "; the restart controller re-stamps it, which rolls the pods"
	}
	out[i].Severity = rules.Warning
	return out
}

// observe runs a handler for creates and updates (anything else is
// allowed untouched), counts and times it, and turns a panic into an error
// response instead of a crash.
func observe(webhook string, req admission.Request, handle func() admission.Response) (resp admission.Response) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("internal error in gjallar"))
		}
		admissionRequests.WithLabelValues(webhook, string(req.Operation), decision(resp)).Inc()
		admissionDuration.WithLabelValues(webhook).Observe(time.Since(start).Seconds())
	}()
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	return handle()
}

// Verdict turns findings into the denial message (empty when nothing is an
// error) and the admission warnings, each finding as "rule: message (field
// path)", in a stable order. Info findings are not shown.
func Verdict(ref rules.ObjectRef, findings []rules.Finding) (denial string, warnings []string) {
	sorted := append([]rules.Finding(nil), findings...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.FieldPath() != b.FieldPath() {
			return a.FieldPath() < b.FieldPath()
		}
		return a.Message < b.Message
	})
	var denials []string
	for _, f := range sorted {
		switch f.Severity {
		case rules.Error:
			denials = append(denials, describe(f))
		case rules.Warning:
			warnings = append(warnings, "gjallar "+describe(f))
		}
	}
	if len(denials) > 0 {
		denial = fmt.Sprintf("gjallar denied %s: %s", ref, strings.Join(denials, "; "))
	}
	return denial, warnings
}

// describe renders a finding as "rule: message (field path)".
func describe(f rules.Finding) string {
	if p := f.FieldPath(); p != "" {
		return fmt.Sprintf("%s: %s (%s)", f.Rule, f.Message, p)
	}
	return f.Rule + ": " + f.Message
}

// onlyConfigHashChanged reports whether an update changes nothing but the
// pod template's config or secret hash (and the fields the API server
// maintains).
func onlyConfigHashChanged(oldRaw []byte, current map[string]any) bool {
	if len(oldRaw) == 0 {
		return false
	}
	var old map[string]any
	if err := utiljson.Unmarshal(oldRaw, &old); err != nil || old == nil {
		return false
	}
	return reflect.DeepEqual(withoutHash(old), withoutHash(current))
}

// withoutHash leaves out of an object the config hash and what the API
// server maintains, so two versions can be compared for anything else.
func withoutHash(content map[string]any) map[string]any {
	for _, p := range [][]string{
		{"metadata", "resourceVersion"}, {"metadata", "generation"}, {"metadata", "managedFields"},
		{"status"}, {"spec", "template", "metadata", "annotations", rollout.AnnotationConfigHash},
		{"spec", "template", "metadata", "annotations", AnnotationSecretHash},
	} {
		content = without(content, p)
	}
	return content
}

// without returns m with the field at path removed, copying only the maps
// along the path.
func without(m map[string]any, path []string) map[string]any {
	out := maps.Clone(m)
	if len(path) == 1 {
		delete(out, path[0])
	} else if child, ok := m[path[0]].(map[string]any); ok {
		// A map emptied by the removal counts as absent, so stamping the
		// first hash (which creates the annotations) is "only the hash".
		if c := without(child, path[1:]); len(c) > 0 {
			out[path[0]] = c
		} else {
			delete(out, path[0])
		}
	}
	return out
}

func decision(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code >= 500:
		return "error"
	case !r.Allowed && r.Result != nil && r.Result.Code == http.StatusBadRequest:
		return "invalid"
	case !r.Allowed:
		return "denied"
	case len(r.Patches) > 0:
		return "patched"
	}
	return "allowed"
}
