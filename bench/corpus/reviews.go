package corpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Verdict is what the webhook should answer.
type Verdict int

const (
	Allowed Verdict = iota
	Denied
	Patched
)

func (v Verdict) String() string {
	return [...]string{"allowed", "denied", "patched"}[v]
}

// Review is one AdmissionReview of the mix, with its UID left out so that
// every send gets a fresh one without encoding the body again.
type Review struct {
	Path string // /validate or /mutate
	Kind string
	Name string // namespace/name
	// Prefix and Suffix are the JSON body before and after the request UID.
	Prefix, Suffix []byte
	Want           Verdict
}

// Body is the review's JSON with uid as the request's UID.
func (r Review) Body(uid string) []byte {
	return append(append(append(make([]byte, 0, len(r.Prefix)+len(uid)+len(r.Suffix)), r.Prefix...), uid...), r.Suffix...)
}

// Answer is what a webhook's answer to a review came to.
type Answer struct {
	Verdict Verdict
	// Refused is an in-band 429 (overloaded, retry): no verdict.
	Refused bool
	Result  *metav1.Status
}

// What is wrong with an answer that is not one.
var (
	ErrUndecodable = errors.New("not an AdmissionReview with a response")
	ErrWrongUID    = errors.New("answer to another request")
	ErrWebhook     = errors.New("webhook error")
)

// ReadAnswer reads the body of a webhook's answer to the review sent with
// uid.
func ReadAnswer(body []byte, uid string) (Answer, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Response == nil {
		return Answer{}, ErrUndecodable
	}
	r := review.Response
	switch {
	case string(r.UID) != uid:
		return Answer{}, ErrWrongUID
	case r.Result != nil && r.Result.Code >= 500:
		return Answer{}, ErrWebhook
	case r.Result != nil && r.Result.Code == http.StatusTooManyRequests:
		return Answer{Refused: true, Result: r.Result}, nil
	case !r.Allowed:
		return Answer{Verdict: Denied, Result: r.Result}, nil
	case len(r.Patch) > 0:
		return Answer{Verdict: Patched, Result: r.Result}, nil
	}
	return Answer{Verdict: Allowed, Result: r.Result}, nil
}

// uidPlaceholder is a UUID-shaped string no real UID equals.
const uidPlaceholder = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// Reviews turns stacks into what the API server sends gjallar when a team re-applies them over the compliant versions the
// cluster holds (bench/cmd/cluster seeds those, ClusterObjects returns them): an UPDATE per object the
// chart's webhook configurations select, to /mutate for workloads (the
// config hash) and to /validate for all of them. Every wrongEvery-th stack
// carries one mistake, so some requests are denied (or patched).
func Reviews(stacks, wrongEvery int) ([]Review, error) {
	var mix []Review
	for i := range stacks {
		d := DefectFor(i, wrongEvery)
		docs := StackDocs(i, d)
		old := StackDocs(i, DefectNone)
		add := func(doc int, path string, want Verdict) error {
			// Only the object with the mistake changes: the others are
			// re-applied as the cluster holds them (a Deployment's config
			// hash follows its ConfigMap, and the cluster's is compliant).
			text := old[doc]
			if d.Doc() == doc {
				text = docs[doc]
			}
			r, err := newReview(i, doc, text, old[doc], path, want)
			if err != nil {
				return err
			}
			mix = append(mix, r)
			return nil
		}
		deniedIf := func(doc int) Verdict {
			// An update that changes only the config hash (a stale one,
			// here) is the mutating webhook's to fix, and validation lets
			// it through. A client's unprefixed model is a warning (Bifrost
			// v1.5.0 and later may resolve it through its model catalog):
			// admitted with the warning, not denied.
			if d.Doc() == doc && d != DefectConfigHash && d != DefectModelPrefix {
				return Denied
			}
			return Allowed
		}
		mutated := Allowed
		if d == DefectConfigHash {
			mutated = Patched
		}
		for _, step := range []struct {
			doc  int
			path string
			want Verdict
		}{
			{DocConfigMap, "/validate", deniedIf(DocConfigMap)},
			{DocBifrost, "/mutate", mutated},
			{DocBifrost, "/validate", deniedIf(DocBifrost)},
			{DocGateway, "/validate", deniedIf(DocGateway)},
			{DocHTTPRoute, "/validate", Allowed},
			{DocApp, "/mutate", Allowed},
			{DocApp, "/validate", deniedIf(DocApp)},
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

func newReview(stack, doc int, newDoc, oldDoc, path string, want Verdict) (Review, error) {
	obj, kind, name, ns, err := objectJSON(stack, doc, newDoc, 2)
	if err != nil {
		return Review{}, err
	}
	oldObj, _, _, _, err := objectJSON(stack, doc, oldDoc, 1)
	if err != nil {
		return Review{}, err
	}
	gvr, ok := resources[kind]
	if !ok {
		return Review{}, fmt.Errorf("no resource for kind %s", kind)
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
		return Review{}, err
	}
	i := bytes.Index(body, []byte(uidPlaceholder))
	return Review{
		Path: path, Kind: kind, Name: ns + "/" + name, Want: want,
		Prefix: body[:i], Suffix: body[i+len(uidPlaceholder):],
	}, nil
}

// ClusterObjects returns the compliant stacks and the platform objects as
// the cluster's cache holds them after bench/cmd/cluster seeds them: JSON
// objects, each with the metadata a stored object has.
func ClusterObjects(stacks int) ([][]byte, error) {
	var out [][]byte
	for i, d := range PlatformDocs() {
		raw, _, _, _, err := objectJSON(0xffffffff, i, d, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	for i := range stacks {
		for doc, d := range StackDocs(i, DefectNone) {
			raw, _, _, _, err := objectJSON(i, doc, d, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, raw)
		}
	}
	return out, nil
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

// Summarize counts reviews by path, kind and expected verdict.
func Summarize(mix []Review) string {
	counts := map[string]int{}
	var keys []string
	for _, r := range mix {
		k := r.Path + " " + r.Kind + " " + r.Want.String()
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
