package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// BenchmarkRender lints a chart and an overlay in-process, rendering
// included, next to linting the same objects already rendered (the
// output gjallar itself rendered, written to a file): the difference is
// what rendering costs inside lint. bench/render.sh compares against the
// helm and kustomize binaries.
func BenchmarkRender(b *testing.B) {
	engine, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, dir string }{
		{"chart=charts-gjallar", filepath.Join("..", "charts", "gjallar")},
		{"kustomization=repos-overlays-prod", filepath.Join("..", "testdata", "repos", "overlays", "overlays", "prod")},
	} {
		in, err := Load([]string{c.dir}, nil, nil)
		if err != nil || len(in.renderings) != 1 {
			b.Fatalf("%s: %v, %d renderings", c.dir, err, len(in.renderings))
		}
		var text bytes.Buffer
		for _, d := range in.renderings[0].docs {
			text.WriteString("---\n")
			text.Write(d.text)
		}
		rendered := filepath.Join(b.TempDir(), "rendered.yaml")
		if err := os.WriteFile(rendered, text.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		objects := len(in.Documents)
		b.Run(c.name+"/in-process", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Lint(engine, Options{Paths: []string{c.dir}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*objects), "ns/object")
		})
		b.Run(c.name+"/pre-rendered", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Lint(engine, Options{Paths: []string{rendered}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*objects), "ns/object")
		})
	}
}
