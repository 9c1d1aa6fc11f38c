package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gjallar-dev/gjallar/rules"
)

// maxFixPasses bounds the fix loop. A pass can make another fix necessary
// (rewriting a config changes the hash of the ConfigMap holding it), so
// fixing repeats until a lint finds nothing left to fix.
const maxFixPasses = 5

// FixResult says what --fix did.
type FixResult struct {
	Applied int
	Files   []string
	// Failed lists fixes that could not be applied, with why.
	Failed []string
}

// Fix lints, applies every available fix to the files, and repeats until
// nothing is left to fix; the report is the last lint's.
func Fix(engine *rules.Engine, opts Options) (*Report, *FixResult, error) {
	res := &FixResult{}
	changed := map[string]bool{}
	for pass := 0; ; pass++ {
		rep, _, err := Lint(engine, opts)
		if err != nil {
			return nil, nil, err
		}
		n, failed, err := applyFixes(rep, changed)
		if err != nil {
			return nil, nil, err
		}
		res.Applied += n
		if n > 0 && pass+1 == maxFixPasses {
			// Still fixing after the last pass: report the files as written.
			if rep, _, err = Lint(engine, opts); err != nil {
				return nil, nil, err
			}
			failed = append(failed, fmt.Sprintf("gjallar: fixes did not settle after %d passes; run --fix again and report this", maxFixPasses))
		}
		if n == 0 || pass+1 == maxFixPasses {
			res.Failed = failed
			for f := range changed {
				res.Files = append(res.Files, f)
			}
			sort.Strings(res.Files)
			return rep, res, nil
		}
	}
}

func applyFixes(rep *Report, changed map[string]bool) (int, []string, error) {
	bySource := map[*Source][]textEdit{}
	var failed []string
	for _, f := range rep.Findings {
		if f.Fix == nil || f.doc == nil || f.doc.Source.Path == "" {
			continue
		}
		for _, e := range f.Fix.Edits {
			te, err := planEdit(f.doc, e)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s:%d:%d: %s: cannot fix automatically: %v", f.File, f.Line, f.Column, f.Rule, err))
				continue
			}
			bySource[f.doc.Source] = append(bySource[f.doc.Source], te)
		}
	}
	applied := 0
	for src, edits := range bySource {
		text, n := applyEdits(src.Text, edits)
		if n == 0 || bytes.Equal(text, src.Text) {
			continue
		}
		if err := writeFile(src, text); err != nil {
			return applied, failed, err
		}
		applied += n
		changed[src.Name] = true
	}
	return applied, failed, nil
}

// textEdit replaces bytes [start, end) of a file.
type textEdit struct {
	start, end int
	text       string
}

// applyEdits applies edits from the end of the file backwards; an edit that
// overlaps one already applied is left for the next pass.
func applyEdits(text []byte, edits []textEdit) ([]byte, int) {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), text...)
	limit := len(text) + 1
	n := 0
	for _, e := range edits {
		if e.end > limit || e.end < e.start {
			continue
		}
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
		limit = e.start
		n++
	}
	return out, n
}

// writeFile replaces the file's content through a temporary file and a
// rename, so a crash never leaves half a manifest. A symlink is followed
// (the link stays a link) and the owner and mode are kept.
func writeFile(src *Source, text []byte) error {
	path, err := filepath.EvalSymlinks(src.Path)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if src.BOM {
		text = append(append([]byte(nil), utf8BOM...), text...)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gjallar-fix-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), info.Mode().Perm()); err != nil {
		return err
	}
	keepOwner(tmp.Name(), info)
	return os.Rename(tmp.Name(), path)
}

// planEdit turns a rule's "set this field" into a text edit that leaves the
// rest of the file as it was: comments, key order and formatting survive.
func planEdit(d *Document, e rules.Edit) (textEdit, error) {
	src := d.Source
	root := d.Node()
	if root == nil {
		s, ok := e.Value.(string)
		if len(e.Path) != 0 || !ok {
			return textEdit{}, fmt.Errorf("unsupported edit of a standalone config")
		}
		return textEdit{0, len(src.Text), s}, nil
	}
	node, key, depth := walk(root, e.Path)
	if depth == len(e.Path) {
		return replaceScalar(d, node, key, e.Value)
	}
	rest := e.Path[depth:]
	for _, tok := range rest {
		if rules.IsIndex(tok) {
			return textEdit{}, fmt.Errorf("cannot create list entries at %s", e.Path)
		}
	}
	switch {
	case node.Kind == yaml.MappingNode && node.Style&yaml.FlowStyle != 0:
		off := src.offset(d.LineBase+node.Line, node.Column)
		if off >= len(src.Text) || src.Text[off] != '{' {
			return textEdit{}, fmt.Errorf("flow mapping not found at line %d", d.LineBase+node.Line)
		}
		text := renderFlow(rest, e.Value)
		if len(node.Content) > 0 {
			text += ", "
		}
		return textEdit{off + 1, off + 1, text}, nil
	case node.Kind == yaml.MappingNode && len(node.Content) >= 2:
		first := node.Content[0]
		line := d.LineBase + first.Line
		lineText := src.line(line)
		startOff := src.offset(line, first.Column) - src.lineStarts()[line-1]
		indent := strings.Repeat(" ", first.Column-1)
		if strings.TrimSpace(lineText[:startOff]) == "" {
			// Insert as the mapping's first entry, at its indentation.
			at := src.lineStarts()[line-1]
			return textEdit{at, at, renderBlock(rest, e.Value, indent, src.newline())}, nil
		}
		// The first key shares its line ("- name: x"): insert after it, if
		// its value ends on that line.
		v := node.Content[1]
		if v.Kind != yaml.ScalarNode || v.Line != first.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return textEdit{}, fmt.Errorf("cannot find a place for %s", e.Path)
		}
		return src.insertAfter(line, renderBlock(rest, e.Value, indent, src.newline())), nil
	case node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null" && key != nil:
		if node.Value != "" {
			// "annotations: null" or "~": replace the token with a mapping.
			start := src.offset(d.LineBase+node.Line, node.Column)
			return textEdit{start, start + len(node.Value), "{" + renderFlow(rest, e.Value) + "}"}, nil
		}
		// "annotations:" with nothing after it: add the entries below it.
		line := d.LineBase + key.Line
		indent := strings.Repeat(" ", key.Column-1+2)
		return src.insertAfter(line, renderBlock(rest, e.Value, indent, src.newline())), nil
	}
	return textEdit{}, fmt.Errorf("cannot add %s under a %s", e.Path, describeNode(node))
}

// replaceScalar rewrites an existing scalar value in place.
func replaceScalar(d *Document, node, key *yaml.Node, value any) (textEdit, error) {
	src := d.Source
	if node.Kind != yaml.ScalarNode {
		return textEdit{}, fmt.Errorf("cannot replace a %s", describeNode(node))
	}
	s, isString := value.(string)
	line := d.LineBase + node.Line
	if node.Style&yaml.LiteralStyle != 0 && isString {
		// Replace the block's content lines, keeping its indentation.
		first := line + 1
		n := 0
		if old := strings.TrimRight(node.Value, "\n"); old != "" {
			n = strings.Count(old, "\n") + 1
		}
		indent := strings.Repeat(" ", src.scalarIndent(d.LineBase, node, key))
		var b strings.Builder
		for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			if i > 0 {
				b.WriteString(src.newline())
			}
			if l != "" {
				b.WriteString(indent + l)
			}
		}
		start := src.lineStarts()[first-1]
		end := src.contentEnd(first + n - 1)
		if n == 0 {
			end = start
		}
		return textEdit{start, end, b.String()}, nil
	}
	if node.Style&yaml.FoldedStyle != 0 {
		return textEdit{}, fmt.Errorf("value at line %d is a folded block scalar", line)
	}
	start := src.offset(line, node.Column)
	if node.Value == "" && node.Style == 0 && node.ShortTag() == "!!null" {
		// "key:" with nothing after it: the node sits right after the
		// colon, and the value needs a space before it.
		return textEdit{start, start, " " + renderScalar(value)}, nil
	}
	end := scalarEnd(src.Text, start, node)
	if end < 0 {
		return textEdit{}, fmt.Errorf("value at line %d spans several lines", line)
	}
	return textEdit{start, end, renderScalar(value)}, nil
}

// scalarEnd finds where a one-line scalar token ends, or -1.
func scalarEnd(text []byte, start int, node *yaml.Node) int {
	switch {
	case node.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(text) && text[i] != '\n'; i++ {
			switch text[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case node.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(text) && text[i] != '\n'; i++ {
			if text[i] == '\'' {
				if i+1 < len(text) && text[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
	default:
		if bytes.HasPrefix(text[start:], []byte(node.Value)) && !strings.Contains(node.Value, "\n") {
			return start + len(node.Value)
		}
	}
	return -1
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)

func renderKey(k string, flow bool) string {
	if !flow && plainKey.MatchString(k) {
		return k
	}
	return renderScalar(k)
}

// renderScalar writes a value as JSON, which is valid YAML in any context.
func renderScalar(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return `""`
	}
	return string(b)
}

func renderBlock(path rules.Path, v any, indent, nl string) string {
	var b strings.Builder
	for i, tok := range path {
		b.WriteString(indent + strings.Repeat("  ", i) + renderKey(tok, false) + ":")
		if i == len(path)-1 {
			b.WriteString(" " + renderScalar(v))
		}
		b.WriteString(nl)
	}
	return b.String()
}

func renderFlow(path rules.Path, v any) string {
	s := renderScalar(v)
	for i := len(path) - 1; i >= 0; i-- {
		s = renderKey(path[i], true) + ": " + s
		if i > 0 {
			s = "{" + s + "}"
		}
	}
	return s
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "node"
}

// offset turns a node's line and column (columns count characters) into a
// byte offset.
func (s *Source) offset(line, col int) int {
	starts := s.lineStarts()
	if line < 1 || line > len(starts) {
		return len(s.Text)
	}
	off := starts[line-1]
	for c := 1; c < col && off < len(s.Text) && s.Text[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(s.Text[off:])
		off += size
	}
	return off
}

// lineEnd is the offset just past line n's line break, where a new line
// can be inserted after it.
func (s *Source) lineEnd(n int) int {
	starts := s.lineStarts()
	if n >= len(starts) {
		return len(s.Text)
	}
	return starts[n]
}

// contentEnd is the offset of line n's line break: the end of its text.
func (s *Source) contentEnd(n int) int {
	end := s.lineEnd(n)
	if end > 0 && end <= len(s.Text) && s.Text[end-1] == '\n' {
		end--
		if end > 0 && s.Text[end-1] == '\r' {
			end--
		}
	}
	return end
}

// insertAfter inserts whole lines after line n.
func (s *Source) insertAfter(n int, lines string) textEdit {
	at := s.lineEnd(n)
	if at == len(s.Text) && at > 0 && s.Text[at-1] != '\n' {
		lines = s.newline() + strings.TrimSuffix(lines, s.newline())
	}
	return textEdit{at, at, lines}
}

func (s *Source) newline() string {
	if bytes.Contains(s.Text, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}
