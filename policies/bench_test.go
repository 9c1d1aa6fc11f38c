package policies_test

import (
	"runtime"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// benchObjects are the examples' manifests: the runbook's stack as written
// and as it should be, gateways and routes, Bifrost configs in ConfigMaps.
func benchObjects(b *testing.B) []*rules.Object {
	b.Helper()
	in, err := lint.Load([]string{
		testdata("examples", "runbook"),
		testdata("examples", "compliant"),
		testdata("rules", "endpoint-hostname", "bad"),
		testdata("rules", "plaintext-secret", "bad", "configmap.yaml"),
		testdata("policies", "bad"),
	}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var objs []*rules.Object
	for _, d := range in.Documents {
		objs = append(objs, d.Object)
	}
	return objs
}

// benchPerObject checks every object in a fresh run per iteration, as the
// webhook starts a run per request, and reports the cost per object (run
// with -benchmem for the per-run B/op and allocs/op as well).
func benchPerObject(b *testing.B, engine *rules.Engine, objs []*rules.Object) {
	idx := rules.NewMemIndex(objs)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		run := engine.NewRun(idx)
		for _, o := range objs {
			run.Check(o)
		}
	}
	runtime.ReadMemStats(&after)
	n := float64(b.N * len(objs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/object")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/object")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/object")
	b.ReportMetric(float64(len(objs)), "objects")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkGoRulesPerObject is the baseline: the Go rules alone.
func BenchmarkGoRulesPerObject(b *testing.B) {
	objs := benchObjects(b)
	engine, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchPerObject(b, engine, objs)
}

// BenchmarkRegoPerObject is the Rego layer alone: the built-in policies,
// and with them a team's conftest policies, one of which reads
// data.inventory.
func BenchmarkRegoPerObject(b *testing.B) {
	objs := benchObjects(b)
	for _, c := range []struct {
		name string
		opts policies.Options
	}{
		{"builtin", policies.Options{Builtin: true}},
		{"builtin+conftest", policies.Options{Builtin: true, Paths: []string{testdata("policies", "conftest")}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			set, err := policies.Load(c.opts)
			if err != nil {
				b.Fatal(err)
			}
			engine, err := rules.NewEngine(nil, nil, set)
			if err != nil {
				b.Fatal(err)
			}
			benchPerObject(b, engine, objs)
		})
	}
}
