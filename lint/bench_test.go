package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// benchSizes are the corpus sizes (objects) the lint benchmarks run at;
// bench/run.sh times the binary at larger ones.
var benchSizes = []int{1000, 10000}

func TestMain(m *testing.M) {
	code := m.Run()
	if corpora.root != "" {
		os.RemoveAll(corpora.root)
	}
	os.Exit(code)
}

var corpora struct {
	sync.Mutex
	dirs map[int]string
	root string
}

// corpusDir writes a corpus of about n objects once per test binary.
func corpusDir(b *testing.B, n int) string {
	b.Helper()
	corpora.Lock()
	defer corpora.Unlock()
	if dir, ok := corpora.dirs[n]; ok {
		return dir
	}
	if corpora.dirs == nil {
		// Outlives the benchmark that wrote it, so every benchmark at this
		// size reads the same files; TestMain removes it.
		root, err := os.MkdirTemp("", "gjallar-bench-")
		if err != nil {
			b.Fatal(err)
		}
		corpora.dirs, corpora.root = map[int]string{}, root
	}
	dir := filepath.Join(corpora.root, fmt.Sprint(n))
	if _, err := corpus.Write(corpus.Options{Stacks: corpus.StacksFor(n), Out: dir, Layout: corpus.LayoutSplit, WrongEvery: 10}); err != nil {
		b.Fatal(err)
	}
	corpora.dirs[n] = dir
	return dir
}

func reportPerObject(b *testing.B, objects int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*objects), "ns/object")
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkParse is the floor: walk, read, split and parse into YAML nodes.
func BenchmarkParse(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			dir := corpusDir(b, n)
			b.ReportAllocs()
			var parsed int
			for b.Loop() {
				in, err := lint.Parse([]string{dir}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				parsed = in.Parsed
			}
			reportPerObject(b, parsed)
		})
	}
}

// BenchmarkLoad is the loader: Parse plus conversion into objects.
func BenchmarkLoad(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			dir := corpusDir(b, n)
			b.ReportAllocs()
			var objects int
			for b.Loop() {
				in, err := lint.Load([]string{dir}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				objects = len(in.Documents)
			}
			reportPerObject(b, objects)
		})
	}
}

// BenchmarkLint is `gjallar lint` without the CLI: load, check with the
// built-in rules and policies, locate and sort the findings.
func BenchmarkLint(b *testing.B) {
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			dir := corpusDir(b, n)
			b.ReportAllocs()
			var objects int
			for b.Loop() {
				rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{dir}})
				if err != nil {
					b.Fatal(err)
				}
				objects = rep.Objects
			}
			reportPerObject(b, objects)
		})
	}
}
