package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/gjallar-dev/gjallar/rules"
)

// chartSource is a rendered chart as placing its findings needs it: the
// templates read as YAML, and the values files parsed, each once.
type chartSource struct {
	dir       string
	chart     *chart.Chart
	settings  ChartSettings
	templates map[string]*templateMap // by template name, as in "# Source:"
	values    map[string]*yaml.Node   // by file path; nil when unreadable
}

// chartPlacer places a finding in an object rendered from one template.
// Positions mean: the values file line that set the value when the
// template copies it from .Values (and no --set touched it), else the
// template line of the deepest field of the finding's path that the
// template writes itself, else the template's first line.
type chartPlacer struct {
	chart    *chartSource
	template string // "NAME/templates/x.yaml"
	kind     string
	// ordinal counts the objects of this kind rendered from the template
	// before this one, to tell its documents apart.
	ordinal int
}

func (p *chartPlacer) place(files *sourceFiles, d *Document, f rules.Finding) placement {
	at := p.placeIn(f)
	if at.within == "" && at.file != chartFilePath(p.chart.dir, p.template) {
		// Placed in a values or chart file: still name the template.
		at.within = "template " + p.template
	}
	return at
}

func (p *chartPlacer) placeIn(f rules.Finding) placement {
	file := chartFilePath(p.chart.dir, p.template)
	// A template inside a packaged dependency has no line of its own on
	// disk: say which one it is.
	within := ""
	if strings.HasSuffix(file, ".tgz") {
		within = "template " + p.template
	}
	tm := p.chart.template(p.template)
	doc := tm.document(p.kind, p.ordinal)
	if doc == nil {
		return placement{file: file, line: 1, col: 1, within: within}
	}
	node, key, depth := walk(doc.root, f.Path)
	at := node
	if key != nil {
		at = key
	}
	line, col := doc.base+at.Line, at.Column
	if within != "" {
		line, col = 1, 1
	}
	if node.Kind != yaml.ScalarNode {
		return placement{file: file, line: line, col: col, within: within}
	}
	// The value came from an action: from .Values, or from a chart file.
	inJSON := f.Doc != nil && depth == len(f.Path)
	if inJSON && node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// JSON written in the template: the line of the key the finding
		// is about, found in order through the block; a value interpolated
		// on that line comes from .Values.
		if l, c, ok := tm.jsonKeyLine(doc.base+node.Line, key, f.DocPath); ok {
			if refs := distinctPaths(tm.refs[l]); len(refs) == 1 {
				if at, ok := p.chart.valuesPosition(p.template, refs[0], nil); ok {
					return at
				}
			}
			if within == "" {
				line, col = l, c
			}
			return placement{file: file, line: line, col: col, within: within}
		}
	}
	refs, files := tm.actionsAt(doc.base+at.Line, key)
	rest := f.Path[depth:]
	if inJSON {
		rest = f.DocPath
	}
	if len(refs) == 1 {
		if at, ok := p.chart.valuesPosition(p.template, refs[0], rest); ok {
			return at
		}
	}
	if len(files) == 1 && inJSON {
		if at, ok := p.chart.chartFilePosition(files[0], f); ok {
			return at
		}
	}
	return placement{file: file, line: line, col: col, within: within}
}

// distinctPaths drops repeated paths, keeping the first of each.
func distinctPaths(ps []rules.Path) []rules.Path {
	var out []rules.Path
	for _, p := range ps {
		if !slices.ContainsFunc(out, func(q rules.Path) bool { return q.String() == p.String() }) {
			out = append(out, p)
		}
	}
	return out
}

// template reads and maps a chart template once, from the loaded chart
// (so a packaged dependency's templates are read too).
func (c *chartSource) template(name string) *templateMap {
	if tm, ok := c.templates[name]; ok {
		return tm
	}
	var tm *templateMap
	if data := templateData(c.chart, name); data != nil {
		tm = mapTemplate(data)
	}
	c.templates[name] = tm
	return tm
}

// templateData finds a template by the name Helm renders it under:
// "NAME/templates/x.yaml", or "NAME/charts/SUB/templates/x.yaml" for a
// dependency's.
func templateData(chrt *chart.Chart, name string) []byte {
	_, rest, _ := strings.Cut(name, "/")
	for strings.HasPrefix(rest, "charts/") {
		sub, after, _ := strings.Cut(strings.TrimPrefix(rest, "charts/"), "/")
		i := slices.IndexFunc(chrt.Dependencies(), func(d *chart.Chart) bool { return d.Name() == sub })
		if i < 0 {
			return nil
		}
		chrt, rest = chrt.Dependencies()[i], after
	}
	for _, t := range chrt.Templates {
		if t.Name == rest {
			return t.Data
		}
	}
	return nil
}

// templateMap is a chart template read as YAML: its actions blanked (a
// line that is only actions) or replaced by a placeholder, so that keys
// keep their lines; and for each line, the .Values paths and chart files
// its actions read.
type templateMap struct {
	docs  []*templateDoc
	lines []string // the template with actions blanked
	refs  map[int][]rules.Path
	files map[int][]string
}

type templateDoc struct {
	root *yaml.Node
	base int // added to node lines
	kind string
}

var (
	valuesRef   = regexp.MustCompile(`\$?\.Values((?:\.[A-Za-z0-9_-]+)+)`)
	withValues  = regexp.MustCompile(`^with\s+\$?\.Values((?:\.[A-Za-z0-9_-]+)+)\s*$`)
	bareDot     = regexp.MustCompile(`(?:^|[\s(|])\.(?:[\s)|]|$)`)
	relativeRef = regexp.MustCompile(`(?:^|[\s(|])\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)`)
	filesGet    = regexp.MustCompile(`\.Files\.Get\s+"([^"]+)"`)
	// oneLineAction is an action that opens and closes on one line.
	oneLineAction = regexp.MustCompile(`\{\{.*?\}\}`)
)

// builtinObjects are the top-level objects of a template's dot; a relative
// reference to one of them is not a values path even inside a with.
var builtinObjects = map[string]bool{"Values": true, "Release": true, "Chart": true, "Capabilities": true, "Files": true, "Template": true}

func mapTemplate(text []byte) *templateMap {
	tm := &templateMap{refs: map[int][]rules.Path{}, files: map[int][]string{}}
	out := append([]byte(nil), text...)
	type frame struct {
		with rules.Path // the values path a with block's dot stands for
		dot  bool       // the frame changes the dot (with, range)
	}
	var stack []frame
	lineOf := func(off int) int { return bytes.Count(text[:off], []byte("\n")) + 1 }
	for off := 0; ; {
		i := bytes.Index(text[off:], []byte("{{"))
		if i < 0 {
			break
		}
		start := off + i
		j := bytes.Index(text[start+2:], []byte("}}"))
		if j < 0 {
			break
		}
		end := start + 2 + j + 2
		off = end
		body := strings.TrimSpace(strings.Trim(strings.TrimSpace(string(text[start+2:end-2])), "-"))
		first, last := lineOf(start), lineOf(end-1)
		// Blank the action, keeping line breaks; a one-line action in the
		// middle of a line leaves a placeholder so "key: {{ x }}" keeps a
		// value.
		for k := start; k < end; k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
		if first == last {
			out[start] = 'x'
		}
		word, _, _ := strings.Cut(body, " ")
		switch word {
		case "if", "range", "define", "block", "with":
			fr := frame{dot: word == "with" || word == "range"}
			if m := withValues.FindStringSubmatch(body); m != nil {
				fr.with = rules.P(toAny(strings.Split(m[1][1:], "."))...)
			}
			stack = append(stack, fr)
			continue
		case "end":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		case "else":
			continue
		}
		var refs []rules.Path
		for _, m := range valuesRef.FindAllStringSubmatch(body, -1) {
			refs = append(refs, rules.P(toAny(strings.Split(m[1][1:], "."))...))
		}
		// Inside "with .Values.x", the dot is .Values.x.
		var with rules.Path
		for k := len(stack) - 1; k >= 0; k-- {
			if stack[k].dot {
				with = stack[k].with
				break
			}
		}
		if with != nil {
			if bareDot.MatchString(body) {
				refs = append(refs, with)
			}
			for _, m := range relativeRef.FindAllStringSubmatch(body, -1) {
				parts := strings.Split(m[1], ".")
				if !builtinObjects[parts[0]] {
					refs = append(refs, with.Child(toAny(parts)...))
				}
			}
		}
		for l := first; l <= last; l++ {
			tm.refs[l] = append(tm.refs[l], refs...)
			for _, m := range filesGet.FindAllStringSubmatch(body, -1) {
				tm.files[l] = append(tm.files[l], m[1])
			}
		}
	}
	// A line that held only actions is blank now, placeholders included.
	lines := strings.SplitAfter(string(out), "\n")
	orig := strings.SplitAfter(string(text), "\n")
	for i, l := range lines {
		if i < len(orig) && strings.Contains(orig[i], "{{") && strings.TrimSpace(oneLineAction.ReplaceAllString(orig[i], "")) == "" {
			lines[i] = strings.Repeat(" ", len(strings.TrimRight(l, "\r\n"))) + l[len(strings.TrimRight(l, "\r\n")):]
		}
	}
	tm.lines = lines
	for _, c := range splitDocuments([]byte(strings.Join(lines, ""))) {
		var root yaml.Node
		if yaml.Unmarshal(c.text, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			continue
		}
		doc := &templateDoc{root: root.Content[0], base: c.line - 1}
		if n, _, depth := walk(doc.root, rules.P("kind")); depth == 1 {
			doc.kind = n.Value
		}
		tm.docs = append(tm.docs, doc)
	}
	return tm
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// document is the template's document an object of that kind came from:
// the ordinal-th one of its kind, or the last such when a range made more
// objects than the template has documents; the only document when the
// template computes its kind.
func (tm *templateMap) document(kind string, ordinal int) *templateDoc {
	if tm == nil {
		return nil
	}
	var same []*templateDoc
	for _, d := range tm.docs {
		if d.kind == kind {
			same = append(same, d)
		}
	}
	switch {
	case len(same) > 0:
		return same[min(ordinal, len(same)-1)]
	case len(tm.docs) == 1:
		return tm.docs[0]
	}
	return nil
}

// actionsAt returns the distinct values paths and chart files that the
// actions producing a field's value read: those on its line and, when its
// value is a block the actions write below it, those on the lines of that
// block.
func (tm *templateMap) actionsAt(line int, key *yaml.Node) ([]rules.Path, []string) {
	refs := append([]rules.Path(nil), tm.refs[line]...)
	files := append([]string(nil), tm.files[line]...)
	if key != nil {
		for l := line + 1; l <= len(tm.lines); l++ {
			text := strings.TrimRight(tm.lines[l-1], "\r\n")
			if strings.TrimSpace(text) != "" && len(text)-len(strings.TrimLeft(text, " ")) < key.Column {
				break
			}
			refs = append(refs, tm.refs[l]...)
			files = append(files, tm.files[l]...)
		}
	}
	slices.Sort(files)
	return distinctPaths(refs), slices.Compact(files)
}

// jsonKeyLine finds, in a JSON block scalar written in the template, the
// line of each key of path in turn, starting below the block's header.
func (tm *templateMap) jsonKeyLine(line int, key *yaml.Node, path rules.Path) (int, int, bool) {
	at, col, found := line+1, 0, false
	for _, tok := range path {
		if rules.IsIndex(tok) {
			continue
		}
		needle := `"` + tok + `"`
		hit := false
		for l := at; l <= len(tm.lines); l++ {
			text := tm.lines[l-1]
			if strings.TrimSpace(text) != "" && key != nil && len(text)-len(strings.TrimLeft(text, " ")) < key.Column {
				break
			}
			if i := strings.Index(text, needle); i >= 0 {
				at, col, hit, found = l, len([]rune(text[:i]))+1, true, true
				break
			}
		}
		if !hit {
			break
		}
	}
	return at, col, found
}

// valuesPosition finds where a values file sets ref+rest for a template of
// this chart (or of a subchart vendored as a directory): the file that
// sets the deepest part of the path, later files winning ties as Helm
// merges them. It gives up when a --set expression touches the path,
// since the value then came from the command line.
func (c *chartSource) valuesPosition(template string, ref, rest rules.Path) (placement, bool) {
	type candidate struct {
		file string
		path rules.Path
	}
	full := append(append(rules.Path(nil), ref...), rest...)
	var cands []candidate
	prefix := rules.Path{}
	if _, after, ok := strings.Cut(template, "/charts/"); ok {
		sub, _, _ := strings.Cut(after, "/")
		cands = append(cands, candidate{filepath.Join(c.dir, "charts", sub, "values.yaml"), full})
		prefix = rules.P(sub)
	}
	scoped := append(append(rules.Path(nil), prefix...), full...)
	cands = append(cands, candidate{filepath.Join(c.dir, "values.yaml"), scoped})
	for _, f := range c.settings.Values {
		cands = append(cands, candidate{f, scoped})
	}
	for _, expr := range append(append([]string(nil), c.settings.Set...), c.settings.SetString...) {
		if setTouches(expr, scoped) {
			return placement{}, false
		}
	}
	bestFile, bestLine, bestCol, bestDepth := "", 0, 0, -1
	for _, cand := range cands {
		root := c.valuesFile(cand.file)
		if root == nil {
			continue
		}
		node, key, depth := walk(root, cand.path)
		if depth < len(cand.path)-len(rest) {
			continue // the file does not set what the template reads
		}
		if depth >= bestDepth {
			at := node
			if key != nil {
				at = key
			}
			bestFile, bestLine, bestCol, bestDepth = filepath.ToSlash(cand.file), at.Line, at.Column, depth
		}
	}
	return placement{file: bestFile, line: bestLine, col: bestCol}, bestDepth >= 0
}

func (c *chartSource) valuesFile(file string) *yaml.Node {
	if c.values == nil {
		c.values = map[string]*yaml.Node{}
	}
	if n, ok := c.values[file]; ok {
		return n
	}
	var root *yaml.Node
	if data, err := os.ReadFile(file); err == nil {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
			root = doc.Content[0]
		}
	}
	c.values[file] = root
	return root
}

// setTouches reports whether a --set expression sets path, a parent of it
// or a part of it.
func setTouches(expr string, path rules.Path) bool {
	for _, assign := range strings.Split(expr, ",") {
		key, _, _ := strings.Cut(assign, "=")
		if key = strings.TrimSpace(key); key == "" {
			continue
		}
		var toks rules.Path
		for _, t := range strings.Split(key, ".") {
			name, _, _ := strings.Cut(t, "[")
			toks = append(toks, name)
		}
		n := min(len(toks), len(path))
		if toks[:n].String() == path[:n].String() {
			return true
		}
	}
	return false
}

// chartFilePosition places a finding inside a JSON document that a
// template read whole from a chart file (.Files.Get), by its offset in
// that file.
func (c *chartSource) chartFilePosition(name string, f rules.Finding) (placement, bool) {
	file := filepath.Join(c.dir, filepath.FromSlash(name))
	data, err := os.ReadFile(file)
	if err != nil {
		return placement{}, false
	}
	content := string(bytes.TrimPrefix(data, utf8BOM))
	trimmed := strings.TrimSpace(f.Doc.Text)
	at := strings.Index(content, trimmed)
	if trimmed == "" || at < 0 || strings.TrimSpace(content) != trimmed {
		return placement{}, false
	}
	shift := at - strings.Index(f.Doc.Text, trimmed)
	line, col := rules.LineCol(content, configOffset(f)+shift)
	// Only a byte-identical file can take the fixed document as it is.
	return placement{file: filepath.ToSlash(file), line: line, col: col, wholeFile: content == f.Doc.Text}, true
}
