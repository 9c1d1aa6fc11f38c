// Package webhook is gjallar's in-cluster door: admission handlers that run
// the same rule engine as `gjallar lint` against the cluster's cache, the
// restart controller that rolls pods when their config changes, and the
// manager around them (certificates, probes, metrics, config reload). It is
// the only package that knows about AdmissionReview and the cluster.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/rules"
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
}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	return observe("validate", req, func() admission.Response {
		obj, err := decodeObject(req)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		findings := v.Engines.Load().NewRun(rules.Overlay(v.Index, obj)).Check(obj)
		for _, f := range findings {
			findingsTotal.WithLabelValues(f.Rule, f.Severity.String()).Inc()
		}
		denial, warnings := Verdict(obj.Ref(), findings)
		if denial != "" {
			return admission.Denied(denial).WithWarnings(warnings...)
		}
		return admission.Allowed("").WithWarnings(warnings...)
	})
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

func decision(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code >= 400 && r.Allowed:
		return "error"
	case !r.Allowed && r.Result != nil && r.Result.Code >= 500:
		return "error"
	case !r.Allowed:
		return "denied"
	case len(r.Patches) > 0:
		return "patched"
	}
	return "allowed"
}
