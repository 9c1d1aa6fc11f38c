package lint

import (
	"fmt"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// A rendering is a set of objects no file holds as written: a Helm chart
// rendered with one set of values, or a kustomization root built. Its
// objects are checked together with the plain manifest files but apart
// from other renderings, so two overlays of one base (or two releases of
// one chart) never see each other's objects.
type rendering struct {
	// what names it in findings: "chart deploy/bifrost" or
	// "kustomization overlays/prod".
	what string
	docs []*Document
}

// A placer maps a finding in a rendered object back to a file the user
// edits: a chart's template or values file, a kustomization's resource,
// patch or generator source. within names the place inside the file when
// its lines do not say it (a template inside a packaged dependency).
type placer interface {
	place(files *sourceFiles, d *Document, f rules.Finding) (file string, line, col int, within string)
}

// RenderOptions says how to render the Helm charts found in the input, as
// `helm template` takes them.
type RenderOptions struct {
	// ReleaseName and Namespace default to helm template's "release-name"
	// and "default".
	ReleaseName string
	Namespace   string
	// ValueFiles, Set and SetString apply to every chart, after its
	// .gjallar.yaml settings.
	ValueFiles []string
	Set        []string
	SetString  []string
	// Charts are the per-chart settings of .gjallar.yaml.
	Charts []ChartSettings
}

// located turns a finding in a document into a positioned one. A finding
// in a rendered object is placed in the file it came from, names the
// rendering, and carries no fix: --fix never edits rendered output, so the
// message says what to change instead.
func (in *Input) located(d *Document, f rules.Finding) Located {
	if d.placer == nil {
		line, col := d.locate(f)
		return Located{Finding: f, File: d.Source.Name, Line: line, Column: col, doc: d}
	}
	file, line, col, within := d.placer.place(&in.placed, d, f)
	if within != "" {
		f.Message += " [" + d.rendering.what + ", " + within + "]"
	} else {
		f.Message += " [" + d.rendering.what + "]"
	}
	if f.Fix != nil {
		f.Message += "; --fix does not edit rendered output: " + fixAdvice(f.Fix)
		f.Fix = nil
	}
	return Located{Finding: f, File: file, Line: line, Column: col}
}

// fixAdvice says in words what a fix would have set.
func fixAdvice(fix *rules.Fix) string {
	var parts []string
	for _, e := range fix.Edits {
		v := renderScalar(e.Value)
		if s, ok := e.Value.(string); ok && strings.Contains(s, "\n") || len(v) > 100 {
			v = "the corrected value"
			if fix.Description != "" {
				v += " (" + fix.Description + ")"
			}
		}
		parts = append(parts, fmt.Sprintf("set %s to %s", e.Path, v))
	}
	return strings.Join(parts, ", ") + " in the template, values or patch that produces it"
}

// dedupe drops findings identical in every field a user sees: the same
// mistake in a base reached twice by one overlay, or a chart rendered
// twice with settings that do not touch it.
func dedupe(fs []Located) []Located {
	type key struct {
		file, rule, msg string
		line, col       int
	}
	seen := map[key]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := key{f.File, f.Rule, f.Message, f.Line, f.Column}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}
