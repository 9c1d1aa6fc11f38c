package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Path locates a field inside an object, one token per level like a JSON
// Pointer: a map key, or a decimal index into a list. The document it is
// applied to decides whether a token is a key or an index, so "0" needs no
// escaping.
type Path []string

// P builds a Path from keys and indexes.
func P(elems ...any) Path {
	p := make(Path, 0, len(elems))
	for _, e := range elems {
		switch v := e.(type) {
		case string:
			p = append(p, v)
		case int:
			p = append(p, strconv.Itoa(v))
		case Path:
			p = append(p, v...)
		default:
			panic("rules.P: path element must be string, int or Path")
		}
	}
	return p
}

// Child returns a new path one level below p; p itself is never modified, so
// paths can be shared between findings.
func (p Path) Child(elems ...any) Path {
	out := make(Path, 0, len(p)+len(elems))
	out = append(out, p...)
	return append(out, P(elems...)...)
}

// String renders the path the way kubectl's JSONPath users read it:
// spec.template.spec.volumes[0], data["config.json"].
func (p Path) String() string {
	var b strings.Builder
	for _, tok := range p {
		switch {
		case IsIndex(tok):
			b.WriteString("[" + tok + "]")
		case isIdent(tok):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		default:
			b.WriteString("[" + strconv.Quote(tok) + "]")
		}
	}
	return b.String()
}

// Pointer renders the path as an RFC 6901 JSON Pointer, the form JSON Patch
// operations take.
func (p Path) Pointer() string {
	var b strings.Builder
	r := strings.NewReplacer("~", "~0", "/", "~1")
	for _, tok := range p {
		b.WriteByte('/')
		b.WriteString(r.Replace(tok))
	}
	return b.String()
}

// HasPrefix reports whether q is an ancestor of (or equal to) p.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// IsIndex reports whether a path token reads as a list index.
func IsIndex(tok string) bool {
	if tok == "" || len(tok) > 9 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

func isIdent(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		ok := c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && (c == '-' || (c >= '0' && c <= '9')))
		if !ok {
			return false
		}
	}
	return true
}

// Lookup follows p through decoded JSON/YAML values (maps and lists) and
// returns the value there.
func Lookup(v any, p Path) (any, bool) {
	for _, tok := range p {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// LookupString is Lookup for a string leaf; a missing or non-string value
// gives "".
func LookupString(v any, p ...string) string {
	s, _ := mustLookup(v, p).(string)
	return s
}

// LookupMap is Lookup for an object; a missing or non-object value gives nil.
func LookupMap(v any, p ...string) map[string]any {
	m, _ := mustLookup(v, p).(map[string]any)
	return m
}

// LookupList is Lookup for a list; a missing or non-list value gives nil.
func LookupList(v any, p ...string) []any {
	l, _ := mustLookup(v, p).([]any)
	return l
}

func mustLookup(v any, p Path) any {
	out, _ := Lookup(v, p)
	return out
}

// AsFloat reads a decoded number (int64, float64 or json.Number); a string
// or anything else is not one.
func AsFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// AsInt reads a decoded whole number; 3.0 counts, 3.5 does not.
func AsInt(v any) (int64, bool) {
	f, ok := AsFloat(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// DescribeJSON renders a decoded value for a message; strings are quoted.
func DescribeJSON(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%v", v)
}
