package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/webhook"
)

// fuzzClusterStacks is how many compliant stacks the fuzzed handlers'
// in-memory cluster holds: enough for the cross-object rules to find
// their neighbours, few enough that a worker starts in a second.
const fuzzClusterStacks = 4

// fuzzDeadline is how long one review may take before it counts as a hang.
const fuzzDeadline = 10 * time.Second

var (
	fuzzHandlersOnce sync.Once
	fuzzHandlers     map[bool]http.Handler
	fuzzHandlersErr  error
)

// admissionHandlers builds /validate and /mutate as the server registers
// them, over the built-in rules and policies and an in-memory cluster, but
// with panics not recovered: controller-runtime would turn a panic into a
// 500, and the fuzzer must see it.
func admissionHandlers(t testing.TB) map[bool]http.Handler {
	fuzzHandlersOnce.Do(func() {
		raws, err := corpus.ClusterObjects(fuzzClusterStacks)
		if err != nil {
			fuzzHandlersErr = err
			return
		}
		objs := make([]*rules.Object, len(raws))
		for i, raw := range raws {
			var m map[string]any
			if err := utiljson.Unmarshal(raw, &m); err != nil {
				fuzzHandlersErr = err
				return
			}
			objs[i] = rules.NewObject(m)
		}
		idx := rules.NewMemIndex(objs)
		idx.Complete = true
		set, err := policies.Load(policies.Options{Builtin: true})
		if err != nil {
			fuzzHandlersErr = err
			return
		}
		engine, err := rules.NewEngine(builtin.Rules(), nil, set)
		if err != nil {
			fuzzHandlersErr = err
			return
		}
		holder := webhook.NewEngineHolder(engine)
		fuzzHandlers = map[bool]http.Handler{
			false: (&admission.Webhook{Handler: &webhook.Validator{Engines: holder, Index: idx}}).WithRecoverPanic(false),
			true:  (&admission.Webhook{Handler: &webhook.Mutator{Engines: holder, Index: idx}}).WithRecoverPanic(false),
		}
	})
	if fuzzHandlersErr != nil {
		t.Fatal(fuzzHandlersErr)
	}
	return fuzzHandlers
}

// reviewDecoder decodes AdmissionReviews as controller-runtime does: v1
// and v1beta1, by the body's apiVersion and kind.
var reviewDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	if err := admissionv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := admissionv1beta1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(scheme).UniversalDeserializer()
}()

// requestUID is the UID of a well-formed AdmissionReview, or "".
func requestUID(body []byte) types.UID {
	obj, _, err := reviewDecoder.Decode(body, nil, nil)
	if err != nil {
		return ""
	}
	switch r := obj.(type) {
	case *admissionv1.AdmissionReview:
		if r.Request != nil {
			return r.Request.UID
		}
	case *admissionv1beta1.AdmissionReview:
		if r.Request != nil {
			return r.Request.UID
		}
	}
	return ""
}

// reviewSeeds are the corpus's reviews plus bodies the API server would
// never send but a confused or hostile client might.
func reviewSeeds(f *testing.F) {
	reviews, err := corpus.Reviews(fuzzClusterStacks, 2)
	if err != nil {
		f.Fatal(err)
	}
	for i, r := range reviews {
		f.Add(r.Body("00000000-0000-4000-8000-00000000000"+string(rune('0'+i%10))), r.Path == "/mutate")
	}
	base := reviews[0].Body("11111111-0000-4000-8000-000000000000")
	withRequest := func(edit func(req map[string]any)) []byte {
		var review map[string]any
		if err := json.Unmarshal(base, &review); err != nil {
			f.Fatal(err)
		}
		req := review["request"].(map[string]any)
		edit(req)
		out, err := json.Marshal(review)
		if err != nil {
			f.Fatal(err)
		}
		return out
	}
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	hostile := [][]byte{
		nil,
		[]byte(`{}`),
		[]byte(`null`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1"}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u2","operation":"DELETE","kind":{"version":"v1","kind":"ConfigMap"}}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5}}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","object":` + deep + `}}`),
		[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"not-a-review"}}`),
		withRequest(func(req map[string]any) { req["object"] = "a string, not an object" }),
		withRequest(func(req map[string]any) { req["object"] = []any{1, 2, 3} }),
		withRequest(func(req map[string]any) { req["object"] = nil; req["operation"] = "DELETE" }),
		withRequest(func(req map[string]any) { req["oldObject"] = map[string]any{"kind": 7} }),
		withRequest(func(req map[string]any) { req["namespace"] = strings.Repeat("n", 1<<16) }),
		withRequest(func(req map[string]any) {
			obj := req["object"].(map[string]any)
			obj["data"] = map[string]any{"config.json": deep}
		}),
		withRequest(func(req map[string]any) {
			obj := req["object"].(map[string]any)
			obj["data"] = map[string]any{"config.json": strings.Repeat("x", 1<<18)}
		}),
		withRequest(func(req map[string]any) {
			obj := req["object"].(map[string]any)
			obj["metadata"] = "wrong type"
			obj["spec"] = 12
		}),
	}
	for _, body := range hostile {
		f.Add(body, false)
		f.Add(body, true)
	}
}

// FuzzAdmissionReview posts arbitrary bodies to /validate and /mutate
// through controller-runtime's admission.Webhook: every body gets an HTTP
// response holding an AdmissionReview, none panics or hangs, and a review
// with a UID gets that UID back.
func FuzzAdmissionReview(f *testing.F) {
	reviewSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte, mutate bool) {
		h := admissionHandlers(t)[mutate]
		rec, out := postReview(t, h, body)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP status %d: the API server needs 200 with the verdict inside", rec.Code)
		}
		if uid := requestUID(body); uid != "" && out.Response.UID != uid {
			t.Fatalf("response UID %q, request UID %q", out.Response.UID, uid)
		}
		if !out.Response.Allowed && out.Response.Result == nil {
			t.Fatalf("denied without a status saying why")
		}
	})
}

// FuzzAdmissionObject fuzzes what FuzzAdmissionReview's byte mutations
// rarely reach: well-formed reviews (so the rules run) around arbitrary
// objects. Every review gets its UID back, a denial says why, and no value
// of a Secret's data appears in what the API server would show the user.
func FuzzAdmissionObject(f *testing.F) {
	raws, err := corpus.ClusterObjects(1)
	if err != nil {
		f.Fatal(err)
	}
	for i, raw := range raws {
		f.Add(raw, raws[(i+1)%len(raws)], i%2 == 0)
		f.Add(raw, []byte(nil), true)
	}
	for _, s := range []string{
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bifrost-config","namespace":"llm"},"stringData":{"config.json":"{\"providers\":{\"openai\":{\"keys\":[{\"name\":\"k\",\"value\":\"sk-live-0123456789abcdef\",\"weight\":1,\"models\":[\"*\"]}]}}}"}}`,
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"llm"},"data":{"config.json":"eyJwcm92aWRlcnMiOiBbXX0="}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"llm"},"data":{"config.json":"{\"providers\": []}"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"bifrost","image":"maximhq/bifrost:v1.3.9","env":"wrong"}]}}}}`,
		`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"r","namespace":"llm"},"spec":{"rules":[{"backendRefs":[{"name":7}]}]}}`,
		`{"kind":"ConfigMap"}`,
		`[]`,
		`"text"`,
	} {
		f.Add([]byte(s), []byte(nil), false)
		f.Add([]byte(s), []byte(s), true)
	}
	f.Fuzz(func(t *testing.T, object, old []byte, mutate bool) {
		h := admissionHandlers(t)[mutate]
		const uid = types.UID("22222222-0000-4000-8000-000000000000")
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(object, &meta)
		gv, _ := schema.ParseGroupVersion(meta.APIVersion)
		gvk := metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: meta.Kind}
		req := &admissionv1.AdmissionRequest{
			UID: uid, Kind: gvk, RequestKind: &gvk, Operation: admissionv1.Create,
			Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace,
			Object: runtime.RawExtension{Raw: asJSON(object)},
		}
		if len(old) > 0 {
			req.Operation = admissionv1.Update
			req.OldObject = runtime.RawExtension{Raw: asJSON(old)}
		}
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request:  req,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, out := postReview(t, h, body)
		if out.Response.UID != uid {
			t.Fatalf("response UID %q, request UID %q", out.Response.UID, uid)
		}
		if !out.Response.Allowed && (out.Response.Result == nil || out.Response.Result.Message == "") {
			t.Fatalf("denied without a message saying why")
		}
		shown := strings.Join(out.Response.Warnings, "\n")
		if out.Response.Result != nil {
			shown += "\n" + out.Response.Result.Message
		}
		for _, secret := range secretValues(object) {
			if strings.Contains(shown, secret) {
				t.Fatalf("a Secret's data value %q appears in the response:\n%s", secret, shown)
			}
		}
	})
}

// asJSON is b if it is JSON, else b as a JSON string: a RawExtension must
// hold JSON for the review to encode.
func asJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// secretValues are the values of a Secret's data and stringData long
// enough that finding one in a message is a leak, not a coincidence.
func secretValues(object []byte) []string {
	var s struct {
		Kind       string            `json:"kind"`
		Data       map[string]any    `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	if json.Unmarshal(object, &s) != nil || s.Kind != "Secret" {
		return nil
	}
	var out []string
	add := func(v string) {
		if len(strings.TrimSpace(v)) >= 12 {
			out = append(out, v)
		}
	}
	for _, v := range s.Data {
		if str, ok := v.(string); ok {
			add(str)
			if dec, err := base64.StdEncoding.DecodeString(str); err == nil {
				add(string(dec))
			}
		}
	}
	for _, v := range s.StringData {
		add(v)
	}
	return out
}

// postReview posts body to h and returns the answer, which must come
// within fuzzDeadline and be an AdmissionReview with a response.
func postReview(t *testing.T, h http.Handler, body []byte) (*httptest.ResponseRecorder, admissionv1.AdmissionReview) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(fuzzDeadline):
		t.Fatalf("no response within %s", fuzzDeadline)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("status %d, body is not an AdmissionReview response (%v): %.300s", rec.Code, err, rec.Body.String())
	}
	return rec, out
}
