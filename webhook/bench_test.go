package webhook_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/webhook"
)

// benchClusterStacks is how many compliant stacks the in-memory "cluster"
// holds, as bench/run.sh seeds the real one.
const benchClusterStacks = 200

// BenchmarkAdmission serves bench/corpus's review mix (what the API server
// sends when teams re-apply their stacks, some with a mistake) through
// controller-runtime's admission handler in-process: decode, the rules
// against a MemIndex standing for the cluster's cache, encode. No TLS, no
// network, no API server: bench/run.sh measures those.
func BenchmarkAdmission(b *testing.B) {
	idx := benchClusterIndex(b)
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		b.Fatal(err)
	}
	holder := webhook.NewEngineHolder(engine)
	reviews, err := corpus.Reviews(benchClusterStacks, 4)
	if err != nil {
		b.Fatal(err)
	}
	handlers := map[string]http.Handler{
		"/validate": &admission.Webhook{Handler: &webhook.Validator{Engines: holder, Index: idx}},
		"/mutate":   &admission.Webhook{Handler: &webhook.Mutator{Engines: holder, Index: idx}},
	}
	// Check the verdicts once, so the benchmark measures right answers.
	for i, r := range reviews {
		if got := serve(b, handlers[r.Path], r, i); got != r.Want {
			b.Fatalf("%s %s %s: %s, want %s", r.Path, r.Kind, r.Name, got, r.Want)
		}
	}
	for _, path := range []string{"/validate", "/mutate"} {
		b.Run(path[1:], func(b *testing.B) {
			var mix []corpus.Review
			for _, r := range reviews {
				if r.Path == path {
					mix = append(mix, r)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				serve(b, handlers[path], mix[i%len(mix)], i)
				i++
			}
		})
	}
}

func serve(b *testing.B, h http.Handler, r corpus.Review, i int) corpus.Verdict {
	uid := fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
	req := httptest.NewRequest(http.MethodPost, r.Path, bytes.NewReader(r.Body(uid)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := utiljson.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK || out.Response.UID != uid {
		b.Fatalf("%s %s: status %d, %v: %s", r.Path, r.Name, rec.Code, err, rec.Body.String())
	}
	switch {
	case !out.Response.Allowed:
		return corpus.Denied
	case len(out.Response.Patch) > 0:
		return corpus.Patched
	}
	return corpus.Allowed
}

// benchClusterIndex holds the compliant stacks decoded as the API server's
// JSON reads (integers stay integers), as the cluster's cache holds them.
func benchClusterIndex(b *testing.B) rules.Index {
	raws, err := corpus.ClusterObjects(benchClusterStacks)
	if err != nil {
		b.Fatal(err)
	}
	objs := make([]*rules.Object, len(raws))
	for i, raw := range raws {
		var m map[string]any
		if err := utiljson.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		objs[i] = rules.NewObject(m)
	}
	idx := rules.NewMemIndex(objs)
	idx.Complete = true // the cluster is the whole truth
	return unchangingCluster{idx}
}

// unchangingCluster stands for the ClusterIndex between two changes of the
// cluster: it is rules.Versioned, at one version, so facts the rules derive
// from the cache are kept across requests as in the webhook.
type unchangingCluster struct{ *rules.MemIndex }

func (c unchangingCluster) Version([]schema.GroupKind) (any, uint64, bool) {
	return c.MemIndex, 1, true
}
