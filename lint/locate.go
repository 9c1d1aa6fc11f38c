package lint

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gjallar-dev/gjallar/rules"
)

// Located is a finding with the file position it points at. A finding
// about an object read from a cluster (the audit) has no file: it is
// located by its object and field path instead.
type Located struct {
	rules.Finding
	File   string
	Line   int
	Column int

	doc *Document // where fixes for it apply; nil for parse errors
}

// Where names what the finding points at, as the text formats print it:
// file:line:col, or for a finding without a file the object and the field
// path (Deployment team-a/bifrost spec.template.spec.securityContext).
func (l Located) Where() string {
	if l.File != "" {
		return l.File + ":" + strconv.Itoa(l.Line) + ":" + strconv.Itoa(l.Column)
	}
	where := l.Object.String()
	if p := l.FieldPath(); p != "" {
		where += " " + p
	}
	return where
}

// walk follows path through the node tree as far as it exists and returns
// the deepest node reached, the key node that introduced it (nil for list
// items and the root), and how many path tokens were consumed.
func walk(root *yaml.Node, path rules.Path) (node, key *yaml.Node, depth int) {
	node = root
	for _, tok := range path {
		if node.Kind == yaml.AliasNode {
			node = node.Alias
		}
		switch node.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(node.Content); i += 2 {
				if node.Content[i].Value == tok {
					key, node = node.Content[i], node.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return node, key, depth
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node.Content) {
				return node, key, depth
			}
			key, node = nil, node.Content[i]
		default:
			return node, key, depth
		}
		depth++
	}
	return node, key, depth
}

// locate finds the line and column a finding points at: the key of the
// deepest field of its path that exists, or inside an embedded Bifrost
// config, the JSON key's own line.
func (d *Document) locate(f rules.Finding) (line, col int) {
	root := d.Node()
	if root == nil {
		// A standalone Bifrost config: positions are offsets in its text.
		if f.Doc != nil {
			return rules.LineCol(f.Doc.Text, configOffset(f))
		}
		return 1, 1
	}
	node, key, depth := walk(root, f.Path)
	at := node
	if key != nil {
		at = key
	}
	line, col = d.LineBase+at.Line, at.Column
	if f.Doc == nil || f.Doc.Encoded || depth < len(f.Path) || node.Kind != yaml.ScalarNode {
		return line, col
	}
	jl, jc := rules.LineCol(f.Doc.Text, configOffset(f))
	switch {
	case node.Style&yaml.LiteralStyle != 0:
		// Content starts on the line after the "|" header.
		first := d.LineBase + node.Line + 1
		return first + jl - 1, d.Source.scalarIndent(d.LineBase, node, key) + jc
	case node.Style&yaml.FoldedStyle != 0:
		return d.LineBase + node.Line + 1, d.Source.scalarIndent(d.LineBase, node, key) + 1
	default:
		// A JSON string on one line: point at its own line.
		return d.LineBase + node.Line, node.Column
	}
}

func configOffset(f rules.Finding) int {
	if len(f.DocPath) == 0 && f.Doc.Err != nil {
		return f.Doc.Err.Offset
	}
	return f.Doc.Span(f.DocPath).Offset()
}

// scalarIndent is a block scalar's content indentation: the parent's
// indentation plus the header's indentation indicator ("|2") when it has
// one, else that of its first non-blank content line.
func (s *Source) scalarIndent(lineBase int, node, key *yaml.Node) int {
	header := s.line(lineBase + node.Line)
	if off := s.offset(lineBase+node.Line, node.Column) - s.lineStarts()[lineBase+node.Line-1]; off < len(header) {
		for _, c := range header[off+1:] {
			if c >= '1' && c <= '9' && key != nil {
				return key.Column - 1 + int(c-'0')
			}
			if c != '+' && c != '-' {
				break
			}
		}
	}
	return s.blockIndent(lineBase + node.Line + 1)
}

// blockIndent is the indentation of a block scalar's content, read from its
// first non-blank line at or after line.
func (s *Source) blockIndent(line int) int {
	for ; line <= s.lineCount(); line++ {
		l := strings.TrimRight(s.line(line), "\r\n")
		if strings.TrimSpace(l) == "" {
			continue
		}
		return len(l) - len(strings.TrimLeft(l, " "))
	}
	return 0
}

// lineStarts indexes where each line begins, once per file.
func (s *Source) lineStarts() []int {
	if s.starts == nil {
		s.starts = []int{0}
		for i, b := range s.Text {
			if b == '\n' {
				s.starts = append(s.starts, i+1)
			}
		}
	}
	return s.starts
}

func (s *Source) lineCount() int { return len(s.lineStarts()) }

// line returns line n (1-based) with its line break.
func (s *Source) line(n int) string {
	starts := s.lineStarts()
	if n < 1 || n > len(starts) {
		return ""
	}
	end := len(s.Text)
	if n < len(starts) {
		end = starts[n]
	}
	return string(s.Text[starts[n-1]:end])
}
