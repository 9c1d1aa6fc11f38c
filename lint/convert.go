package lint

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// errAliasBomb is returned when expanding a document's aliases would create
// far more values than the document holds: a YAML "billion laughs".
var errAliasBomb = errors.New("aliases expand to too many values (a YAML alias bomb?)")

// converter turns a YAML node tree into the values encoding/json would
// produce from the same object as JSON, the way the API server sees it:
// timestamps stay strings, map keys become strings. Alias expansion is
// metered so a small document cannot expand without bound.
type converter struct {
	budget int
}

// newConverter allows a document to expand to ten times its own size, and
// always to 100,000 values, which no real manifest approaches.
func newConverter(root *yaml.Node) *converter {
	n := countNodes(root, 0)
	return &converter{budget: max(100_000, 10*n)}
}

func countNodes(n *yaml.Node, depth int) int {
	if n == nil || depth > maxDepth {
		return 0
	}
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch, depth+1)
	}
	return c
}

// maxDepth is the deepest nesting accepted; the YAML parser stops at 10,000
// and no Kubernetes object needs more than a few dozen.
const maxDepth = 1000

func (cv *converter) value(n *yaml.Node, depth int) (any, error) {
	if cv.budget--; cv.budget < 0 {
		return nil, errAliasBomb
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nesting deeper than %d levels", n.Line, maxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return cv.value(n.Content[0], depth)
	case yaml.AliasNode:
		return cv.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return scalarValue(n), nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := cv.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		if err := cv.mapping(n, out, depth); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func (cv *converter) mapping(n *yaml.Node, out map[string]any, depth int) error {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a map key must be a scalar", k.Line)
		}
		val, err := cv.value(v, depth+1)
		if err != nil {
			return err
		}
		out[k.Value] = val
	}
	// Merge keys (<<: *base) fill in what the mapping does not set itself.
	for _, m := range merges {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			if s.Kind == yaml.AliasNode {
				s = s.Alias
			}
			if s.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: a merge key needs a mapping", s.Line)
			}
			merged := map[string]any{}
			if err := cv.mapping(s, merged, depth+1); err != nil {
				return err
			}
			for k, v := range merged {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	return nil
}

// scalarValue resolves a scalar by its YAML 1.2 tag, into int64, float64,
// bool, nil or string.
func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!float":
		if strings.Contains(strings.ToLower(n.Value), "n") {
			return n.Value // .inf and .nan have no JSON form; keep the text
		}
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(n.Value, ".eE") {
				return int64(f)
			}
			return f
		}
	}
	return n.Value
}
