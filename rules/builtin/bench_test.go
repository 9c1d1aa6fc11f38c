package builtin_test

import (
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// benchStacks is the corpus the engine benchmarks check: 100 stacks of
// bench/corpus (702 objects, one stack in ten wrong on purpose).
const benchStacks = 100

// benchContents loads the corpus once and returns each object's content,
// to wrap afresh in every iteration: derived views (typed pod templates,
// parsed Bifrost configs) are cached on the Object, and lint computes them
// once per run.
func benchContents(b *testing.B) []map[string]any {
	b.Helper()
	dir, err := os.MkdirTemp("", "gjallar-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := corpus.Write(corpus.Options{Stacks: benchStacks, Out: dir, Layout: corpus.LayoutSplit, WrongEvery: 10}); err != nil {
		b.Fatal(err)
	}
	in, err := lint.Load([]string{dir}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]map[string]any, len(in.Documents))
	for i, d := range in.Documents {
		out[i] = d.Object.Content
	}
	return out
}

// benchEngine checks the corpus once per iteration as lint does: fresh
// objects in one index, one run, every object the engine has rules for
// (selected by kinds) checked. Wrapping and indexing are left out of the
// figures; ns/object, B/object and allocs/object are per checked object.
func benchEngine(b *testing.B, engine *rules.Engine, contents []map[string]any, kinds func(*rules.Object) bool) {
	var ms runtime.MemStats
	var bytes, mallocs uint64
	n := 0
	for b.Loop() {
		b.StopTimer()
		objs := make([]*rules.Object, len(contents))
		for i, c := range contents {
			objs[i] = rules.NewObject(c)
		}
		idx := rules.NewMemIndex(objs)
		runtime.ReadMemStats(&ms)
		bytes0, mallocs0 := ms.TotalAlloc, ms.Mallocs
		b.StartTimer()

		run := engine.NewRun(idx)
		for _, o := range objs {
			if kinds(o) {
				run.Check(o)
				n++
			}
		}

		b.StopTimer()
		runtime.ReadMemStats(&ms)
		bytes += ms.TotalAlloc - bytes0
		mallocs += ms.Mallocs - mallocs0
		b.StartTimer()
	}
	if n == 0 {
		b.Fatal("no object of the rule's kinds in the corpus")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/object")
	b.ReportMetric(float64(bytes)/float64(n), "B/object")
	b.ReportMetric(float64(mallocs)/float64(n), "allocs/object")
	b.ReportMetric(float64(n)/float64(b.N), "objects")
}

// BenchmarkEnginePerObject runs every built-in Go rule over the corpus, as
// lint does (Rego policies are policies.BenchmarkRegoPerObject).
func BenchmarkEnginePerObject(b *testing.B) {
	contents := benchContents(b)
	engine, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchEngine(b, engine, contents, func(*rules.Object) bool { return true })
}

// BenchmarkRule runs one rule at a time over the corpus; ns/object is per
// object of the kinds the rule looks at.
func BenchmarkRule(b *testing.B) {
	contents := benchContents(b)
	for _, r := range builtin.Rules() {
		if r.Check == nil {
			continue
		}
		b.Run(r.ID, func(b *testing.B) {
			engine, err := rules.NewEngine([]*rules.Rule{r}, nil)
			if err != nil {
				b.Fatal(err)
			}
			benchEngine(b, engine, contents, func(o *rules.Object) bool { return slices.Contains(r.Kinds, o.GroupKind()) })
		})
	}
}
