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
}

// Report is the outcome of one lint.
type Report struct {
	Findings []Located
	// Notices are what the run could not do, apart from findings.
	Notices []Notice
	Files   int
	Objects int
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
	in, err := Load(opts.Paths, opts.Stdin, opts.Ignore)
	if err != nil {
		return nil, nil, err
	}
	in.Complete = opts.Complete
	return Check(engine, in), in, nil
}

// Check runs the engine over loaded input, with all of it as the index.
func Check(engine *rules.Engine, in *Input) *Report {
	objs := make([]*rules.Object, len(in.Documents))
	for i, d := range in.Documents {
		objs[i] = d.Object
	}
	idx := rules.NewMemIndex(objs)
	idx.Complete = in.Complete
	run := engine.NewRun(idx)
	rep := &Report{Files: len(in.Sources), Objects: len(objs)}
	for _, p := range in.Problems {
		if f, ok := engine.Emit(p.Finding, nil); ok {
			p.Finding = f
			rep.Findings = append(rep.Findings, p)
		}
	}
	found := checkAll(run, in.Documents)
	for i, d := range in.Documents {
		for _, f := range found[i] {
			line, col := d.locate(f)
			rep.Findings = append(rep.Findings, Located{Finding: f, File: d.Source.Name, Line: line, Column: col, doc: d})
		}
	}
	SortFindings(rep.Findings)
	return rep
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
