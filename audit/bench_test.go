package audit

import (
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// benchmarkCluster is the benchmark cluster's content (bench/cmd/cluster:
// the platform objects, 500 stacks and their namespaces, 4,003 objects),
// every tenth stack with one mistake, as objects in memory.
func benchmarkCluster(b *testing.B) []*rules.Object {
	b.Helper()
	docs := append(corpus.PlatformDocs(), "{apiVersion: v1, kind: Namespace, metadata: {name: kgateway-system}}")
	for i := range 500 {
		docs = append(docs, "{apiVersion: v1, kind: Namespace, metadata: {name: "+corpus.StackNamespace(i)+"}}")
		docs = append(docs, corpus.StackDocs(i, corpus.DefectFor(i, 10))...)
	}
	objs := make([]*rules.Object, 0, len(docs))
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			b.Fatal(err)
		}
		objs = append(objs, rules.NewObject(m))
	}
	return objs
}

// BenchmarkPass is one evaluation of the benchmark cluster on one
// goroutine: "background" as the webhook's background audit runs it
// (Check), "judged" as gjallar audit does (CheckJudged, noting what each
// rule reads); both on fresh objects, so every derived view is computed
// again, as after every object changed. "background/unchanged" reuses the
// objects, as the webhook's cache does while nothing changes (it keeps an
// object's wrapper until its resourceVersion moves).
func BenchmarkPass(b *testing.B) {
	objs := benchmarkCluster(b)
	e, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	e.Warm()
	for _, c := range []struct {
		name          string
		judged, fresh bool
	}{{"background", false, true}, {"judged", true, true}, {"background/unchanged", false, false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			findings := 0
			same := newClusterIndex(objs, "", nil)
			for b.Loop() {
				idx, checked := same, objs
				if c.fresh {
					b.StopTimer()
					checked = make([]*rules.Object, len(objs))
					for i, o := range objs {
						checked[i] = rules.NewObject(o.Content)
					}
					idx = newClusterIndex(checked, "", nil)
					b.StartTimer()
				}
				findings = len(Evaluate(e, idx, checked, c.judged, 1))
			}
			b.ReportMetric(float64(len(objs)), "objects")
			b.ReportMetric(float64(findings), "findings")
		})
	}
}
