// Package lint is gjallar's offline door: it reads files into objects with
// positions, runs the rule engine over them with everything read as the
// index, renders findings, and applies fixes to the files. It is the only
// package that knows about files and line numbers.
package lint

import (
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// Options says what to lint.
type Options struct {
	Paths  []string
	Stdin  io.Reader
	Ignore []string
	// Complete says the input is everything that exists (a dump of a whole
	// cluster), so references to objects not in it are errors rather than
	// "may live elsewhere".
	Complete bool
	// DefaultNamespace is where namespaced objects that name no namespace
	// are applied, as with `kubectl apply -n`; "" leaves them without one.
	DefaultNamespace string
	// Render says how to render the Helm charts found.
	Render RenderOptions
}

// Report is the outcome of one lint.
type Report struct {
	Findings []Located
	// Notices are what the run could not do, apart from findings.
	Notices []Notice
	Files   int
	Objects int
	// Renderings counts the charts rendered and kustomizations built.
	Renderings int
}

// Count returns how many findings are at or above a severity.
func (r *Report) Count(min rules.Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= min {
			n++
		}
	}
	return n
}

// Lint loads the input and checks it.
func Lint(engine *rules.Engine, opts Options) (*Report, *Input, error) {
	go engine.Warm() // on the other core while this one reads
	in, err := load(&Input{render: &opts.Render}, opts.Paths, opts.Stdin, opts.Ignore)
	if err != nil {
		return nil, nil, err
	}
	in.Complete = opts.Complete
	in.DefaultNamespace = opts.DefaultNamespace
	return Check(engine, in), in, nil
}

// Check runs the engine over loaded input. Plain manifest files are checked
// with everything read as the index; each rendering (a chart, a
// kustomization root) with everything too, but its own objects last, so
// they replace another rendering's object of the same kind, namespace and
// name: two overlays of one base each see their own version, while a
// chart and an overlay that make one deployment see each other.
func Check(engine *rules.Engine, in *Input) *Report {
	for _, d := range in.Documents {
		if d.Object.File() == nil && kube.Namespaced(d.Object.GroupKind()) {
			d.Object.PlaceIn(in.DefaultNamespace)
		}
	}
	rep := &Report{Files: len(in.Sources), Objects: len(in.Documents), Renderings: len(in.renderings)}
	for _, p := range in.Problems {
		if f, ok := engine.Emit(p.Finding, nil); ok {
			p.Finding = f
			rep.Findings = append(rep.Findings, p)
		}
	}
	var plain []*Document
	for _, d := range in.Documents {
		if d.rendering == nil {
			plain = append(plain, d)
		}
	}
	rep.Findings = append(rep.Findings, in.checkScope(engine, plain, in.Documents)...)
	for _, r := range in.renderings {
		var index []*Document
		if len(in.renderings) == 1 {
			index = in.Documents
		} else {
			index = make([]*Document, 0, len(in.Documents))
			for _, d := range in.Documents {
				if d.rendering != r {
					index = append(index, d)
				}
			}
			index = append(index, r.docs...)
		}
		rep.Findings = append(rep.Findings, in.checkScope(engine, r.docs, index)...)
	}
	SortFindings(rep.Findings)
	rep.Findings = dedupe(rep.Findings)
	return rep
}

// checkScope checks docs with the objects of index as the index; a later
// object replaces an earlier one of the same kind, namespace and name.
func (in *Input) checkScope(engine *rules.Engine, docs, index []*Document) []Located {
	objs := make([]*rules.Object, len(index))
	for i, d := range index {
		objs[i] = d.Object
	}
	idx := rules.NewMemIndex(objs)
	idx.Complete = in.Complete
	found := checkAll(engine.NewRun(idx), docs)
	var out []Located
	for i, d := range docs {
		for _, f := range found[i] {
			out = append(out, in.located(d, f))
		}
	}
	return out
}

// checkAll checks the documents on every core: a run is safe for
// concurrent Check calls, and the objects are independent once the index
// is built. Locating findings stays serial, since documents of one file
// share its line index.
func checkAll(run *rules.Run, docs []*Document) [][]rules.Finding {
	found := make([][]rules.Finding, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(docs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(docs) {
					return
				}
				found[i] = run.Check(docs[i].Object)
			}
		})
	}
	wg.Wait()
	return found
}

// SortFindings orders findings by file, position, rule and message, so
// output is stable whatever order rules ran in.
func SortFindings(fs []Located) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Column != b.Column:
			return a.Column < b.Column
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}
