package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/rules"
)

// TestReportWriter syncs reports into the API server in both report APIs:
// created once, not written again while the results stay the same, updated
// (keeping the first-seen time of a result that stays) when they change,
// deleted when the namespace is clean; reports not labelled as gjallar's
// are never touched.
func TestReportWriter(t *testing.T) {
	requireEnv(t)
	for _, api := range []audit.ReportAPI{audit.WGPolicy, audit.OpenReports} {
		t.Run(string(api), func(t *testing.T) {
			ns := "writer-" + map[audit.ReportAPI]string{audit.WGPolicy: "wg", audit.OpenReports: "open"}[api]
			namespace(t, ns)
			nsKind, _ := api.Kinds()
			gv, _ := schema.ParseGroupVersion(string(api))
			// Someone else's report in the same namespace.
			foreign := &unstructured.Unstructured{Object: map[string]any{"source": "other", "summary": map[string]any{"pass": int64(1)}}}
			foreign.SetGroupVersionKind(gv.WithKind(nsKind))
			foreign.SetNamespace(ns)
			foreign.SetName("kyverno-thing")
			create(t, suite.client, foreign)

			clock := time.Unix(1767225600, 0)
			var writes []string
			w := &audit.ReportWriter{Client: suite.client, API: api, Limiter: rate.NewLimiter(100, 10),
				Now:     func() time.Time { return clock },
				Observe: func(op string, err error) { writes = append(writes, fmt.Sprintf("%s %v", op, err)) }}
			finding := func(name, msg string) audit.Finding {
				return audit.Finding{UID: "uid-" + name, Finding: rules.Finding{Rule: "bifrost-providers-map", Severity: rules.Error, Message: msg,
					Object: rules.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}}}
			}
			get := func() *unstructured.Unstructured {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(gv.WithKind(nsKind))
				if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "gjallar"}, u); err != nil {
					return nil
				}
				return u
			}
			sync := func(fs ...audit.Finding) audit.SyncStats {
				t.Helper()
				st, err := w.Sync(context.Background(), fs)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			st := sync(finding("a", "one"), finding("b", "two"))
			first := get()
			if first == nil || st.Created < 1 {
				t.Fatalf("not created: %+v", st)
			}
			rv := first.GetResourceVersion()

			clock = clock.Add(time.Hour)
			sync(finding("a", "one"), finding("b", "two"))
			if again := get(); again.GetResourceVersion() != rv {
				t.Error("an unchanged report was written again")
			}

			sync(finding("a", "one"), finding("c", "three"))
			changed := get()
			if changed.GetResourceVersion() == rv {
				t.Fatal("a changed report was not updated")
			}
			results, _, _ := unstructured.NestedSlice(changed.Object, "results")
			stamps := map[string]int64{}
			for _, r := range results {
				m := r.(map[string]any)
				sec, _, _ := unstructured.NestedInt64(m, "timestamp", "seconds")
				stamps[m["message"].(string)] = sec
			}
			if len(stamps) != 2 || stamps["one"] != 1767225600 || stamps["three"] != 1767225600+3600 {
				t.Errorf("timestamps %v: the kept result must keep its first-seen time, the new one get now", stamps)
			}
			if fail, _, _ := unstructured.NestedInt64(changed.Object, "summary", "fail"); fail != 2 {
				t.Errorf("summary fail = %d", fail)
			}

			sync() // clean
			if get() != nil {
				t.Error("the clean namespace's report was not deleted")
			}
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gv.WithKind(nsKind))
			if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "kyverno-thing"}, u); err != nil {
				t.Errorf("another tool's report was touched: %v", err)
			}
			for _, wr := range writes {
				if !strings.HasSuffix(wr, " <nil>") {
					t.Errorf("write failed: %s", wr)
				}
			}
		})
	}
}
