package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// verdict is what the webhook should answer.
type verdict int

const (
	allowed verdict = iota
	denied
	patched
)

func (v verdict) String() string {
	return [...]string{"allowed", "denied", "patched"}[v]
}

// request is one AdmissionReview of the mix, with its UID left out so
// that every send gets a fresh one without re-encoding the body.
type request struct {
	path           string
	kind, name     string // name is namespace/name
	prefix, suffix []byte
	want           verdict
}

// uidPlaceholder is a UUID-shaped string no real UID equals.
const uidPlaceholder = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// buildMix turns stacks of bench/corpus into what the API server sends
// gjallar when a team re-applies them over the compliant versions the
// cluster holds (bench/cmd/cluster seeds those): an UPDATE per object the
// chart's webhook configurations select, to /mutate for workloads (the
// config hash) and to /validate for all of them. Every wrongEvery-th stack
// carries one mistake, so some requests are denied (or patched).
func buildMix(stacks, wrongEvery int) ([]request, error) {
	var mix []request
	for i := range stacks {
		d := corpus.DefectFor(i, wrongEvery)
		docs := corpus.StackDocs(i, d)
		old := corpus.StackDocs(i, corpus.DefectNone)
		add := func(doc int, path string, want verdict) error {
			// Only the object with the mistake changes: the others are
			// re-applied as the cluster holds them (a Deployment's config
			// hash follows its ConfigMap, and the cluster's is compliant).
			text := old[doc]
			if d.Doc() == doc {
				text = docs[doc]
			}
			r, err := newRequest(i, doc, text, old[doc], path, want)
			if err != nil {
				return err
			}
			mix = append(mix, r)
			return nil
		}
		deniedIf := func(doc int) verdict {
			if d.Doc() == doc {
				return denied
			}
			return allowed
		}
		mutated := allowed
		if d == corpus.DefectConfigHash {
			mutated = patched
		}
		for _, step := range []struct {
			doc  int
			path string
			want verdict
		}{
			{corpus.DocConfigMap, "/validate", deniedIf(corpus.DocConfigMap)},
			{corpus.DocBifrost, "/mutate", mutated},
			{corpus.DocBifrost, "/validate", deniedIf(corpus.DocBifrost)},
			{corpus.DocGateway, "/validate", deniedIf(corpus.DocGateway)},
			{corpus.DocHTTPRoute, "/validate", allowed},
			{corpus.DocApp, "/mutate", allowed},
			{corpus.DocApp, "/validate", deniedIf(corpus.DocApp)},
		} {
			if err := add(step.doc, step.path, step.want); err != nil {
				return nil, err
			}
		}
	}
	return mix, nil
}

var resources = map[string]metav1.GroupVersionResource{
	"ConfigMap":  {Version: "v1", Resource: "configmaps"},
	"Deployment": {Group: "apps", Version: "v1", Resource: "deployments"},
	"Gateway":    {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"},
	"HTTPRoute":  {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
}

func newRequest(stack, doc int, newDoc, oldDoc, path string, want verdict) (request, error) {
	obj, kind, name, ns, err := objectJSON(stack, doc, newDoc, 2)
	if err != nil {
		return request{}, err
	}
	oldObj, _, _, _, err := objectJSON(stack, doc, oldDoc, 1)
	if err != nil {
		return request{}, err
	}
	gvr, ok := resources[kind]
	if !ok {
		return request{}, fmt.Errorf("no resource for kind %s", kind)
	}
	gvk := metav1.GroupVersionKind{Group: gvr.Group, Version: gvr.Version, Kind: kind}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:  uidPlaceholder,
			Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Name: name, Namespace: ns, Operation: admissionv1.Update,
			UserInfo:  authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}},
			Object:    runtime.RawExtension{Raw: obj},
			OldObject: runtime.RawExtension{Raw: oldObj},
			Options:   runtime.RawExtension{Raw: []byte(`{"kind":"UpdateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply","fieldValidation":"Strict"}`)},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return request{}, err
	}
	i := bytes.Index(body, []byte(uidPlaceholder))
	return request{
		path: path, kind: kind, name: ns + "/" + name, want: want,
		prefix: body[:i], suffix: body[i+len(uidPlaceholder):],
	}, nil
}

// objectJSON is a corpus document as the API server sends it: JSON, with
// the metadata a stored object has.
func objectJSON(stack, doc int, text string, generation int) (raw []byte, kind, name, ns string, err error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		return nil, "", "", "", err
	}
	meta, _ := m["metadata"].(map[string]any)
	kind, _ = m["kind"].(string)
	name, _ = meta["name"].(string)
	ns, _ = meta["namespace"].(string)
	meta["uid"] = fmt.Sprintf("%08x-0000-4000-8000-%012x", stack, doc)
	meta["resourceVersion"] = fmt.Sprint(1000 + stack*10 + doc)
	meta["generation"] = generation
	meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
	raw, err = json.Marshal(m)
	return raw, kind, name, ns, err
}

// mixSummary counts the mix by path, kind and expected verdict.
func mixSummary(mix []request) string {
	counts := map[string]int{}
	var keys []string
	for _, r := range mix {
		k := r.path + " " + r.kind + " " + r.want.String()
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, counts[k])
	}
	return strings.TrimSuffix(b.String(), "; ")
}
