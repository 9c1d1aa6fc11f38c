package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// A rendering is a set of objects no file holds as written: a Helm chart
// rendered with one set of values, or a kustomization root built. Its
// objects are checked with its own versions taking precedence over other
// renderings' objects of the same name (Check).
type rendering struct {
	// what names it in findings: "chart deploy/bifrost" or
	// "kustomization overlays/prod".
	what string
	docs []*Document
}

// A placer maps a finding in a rendered object back to a file the user
// edits: a chart's template or values file, a kustomization's resource,
// patch or generator source.
type placer interface {
	place(files *sourceFiles, d *Document, f rules.Finding) placement
}

// placement is where a finding in a rendered object points.
type placement struct {
	file      string
	line, col int
	// within names the place inside the file when its lines do not say it
	// (a template inside a packaged dependency).
	within string
	// wholeFile is set when the finding is inside a JSON document that is
	// this file's entire content (a generator's config.json, a chart file
	// read with .Files.Get): a fix of that document can then be written
	// to the file itself.
	wholeFile bool
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

// checkValueFiles makes a values file that does not exist a usage error,
// as a missing path is, before anything is rendered.
func (o *RenderOptions) checkValueFiles() error {
	files := slices.Clone(o.ValueFiles)
	for _, c := range o.Charts {
		files = append(files, c.Values...)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.IsDir() {
			return &UsageError{fmt.Errorf("values file %s: no such file", f)}
		}
	}
	return nil
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
	at := d.placer.place(&in.placed, d, f)
	if at.within != "" {
		f.Message += " [" + d.rendering.what + ", " + at.within + "]"
	} else {
		f.Message += " [" + d.rendering.what + "]"
	}
	if f.Fix != nil && at.wholeFile {
		if fix := wholeFileFix(f); fix != nil {
			// The source file is the document: fix it there.
			f.Fix = fix
			src := &Source{Name: at.file, Path: filepath.FromSlash(at.file), Text: []byte(f.Doc.Text)}
			return Located{Finding: f, File: at.file, Line: at.line, Column: at.col, doc: &Document{Source: src}}
		}
	}
	if f.Fix != nil {
		f.Message += "; --fix does not edit rendered output: " + fixAdvice(f.Fix)
		f.Fix = nil
	}
	return Located{Finding: f, File: at.file, Line: at.line, Column: at.col}
}

// wholeFileFix turns a fix that rewrites one JSON document (the field
// holding it) into the new text of the file that is that document, or nil
// when the fix edits anything else.
func wholeFileFix(f rules.Finding) *rules.Fix {
	if f.Doc == nil || f.Doc.Encoded || len(f.Fix.Edits) != 1 {
		return nil
	}
	e := f.Fix.Edits[0]
	text, ok := e.Value.(string)
	if !ok || e.Path.String() != f.Doc.Path.String() {
		return nil
	}
	if strings.HasSuffix(f.Doc.Text, "\n") && !strings.HasSuffix(text, "\n") {
		text += "\n" // a file keeps its last line break
	}
	return &rules.Fix{Description: f.Fix.Description, Edits: []rules.Edit{{Value: text}}}
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
