package rules

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Span is where one JSON value lies in its text: [Start, End) is the value,
// Key the offset of the member name that introduces it (-1 for list elements
// and the root).
type Span struct {
	Key, Start, End int
}

// Offset is where a finding about the value should point: its key if it has
// one, otherwise the value itself.
func (s Span) Offset() int {
	if s.Key >= 0 {
		return s.Key
	}
	return s.Start
}

// JSONSyntaxError is invalid JSON with the byte offset where decoding failed.
type JSONSyntaxError struct {
	Offset int
	Msg    string
}

func (e *JSONSyntaxError) Error() string { return e.Msg }

// maxJSONDepth bounds nesting; encoding/json stops at 10000, far deeper than
// any config, and a recursive walk that deep is still cheap.
const maxJSONDepth = 10000

// ParseJSON decodes text like encoding/json with UseNumber and also records
// the span of every value, keyed by JSON Pointer. Validation and error
// messages are encoding/json's; the walk below only runs on valid input.
func ParseJSON(text string) (any, map[string]Span, *JSONSyntaxError) {
	if !json.Valid([]byte(text)) {
		var probe any
		err := json.Unmarshal([]byte(text), &probe)
		return nil, nil, toSyntaxError(err, len(text))
	}
	p := spanParser{s: text, spans: map[string]Span{}}
	p.skipSpace()
	v := p.value("", -1, 0)
	return v, p.spans, nil
}

func toSyntaxError(err error, n int) *JSONSyntaxError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset)
		if off > 0 {
			off-- // Offset counts the byte that failed; point at it
		}
		return &JSONSyntaxError{Offset: off, Msg: se.Error()}
	}
	return &JSONSyntaxError{Offset: n, Msg: err.Error()}
}

type spanParser struct {
	s     string
	i     int
	spans map[string]Span
}

func (p *spanParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *spanParser) value(ptr string, key, depth int) any {
	start := p.i
	var v any
	if depth > maxJSONDepth || p.i >= len(p.s) {
		return nil
	}
	switch c := p.s[p.i]; {
	case c == '{':
		v = p.object(ptr, depth)
	case c == '[':
		v = p.array(ptr, depth)
	case c == '"':
		v = p.str()
	case c == 't':
		p.i += 4
		v = true
	case c == 'f':
		p.i += 5
		v = false
	case c == 'n':
		p.i += 4
	default:
		v = p.number()
	}
	p.spans[ptr] = Span{Key: key, Start: start, End: p.i}
	return v
}

func (p *spanParser) object(ptr string, depth int) map[string]any {
	m := map[string]any{}
	p.i++ // {
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] == '}' {
			p.i++
			return m
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		keyAt := p.i
		k := p.str()
		p.skipSpace()
		p.i++ // :
		p.skipSpace()
		m[k] = p.value(ptr+"/"+escapePointer(k), keyAt, depth+1)
	}
}

func (p *spanParser) array(ptr string, depth int) []any {
	l := []any{}
	p.i++ // [
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] == ']' {
			p.i++
			return l
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		l = append(l, p.value(ptr+"/"+strconv.Itoa(len(l)), -1, depth+1))
	}
}

func (p *spanParser) str() string {
	start := p.i
	p.i++ // opening quote
	escaped := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' {
			escaped = true
			p.i += 2
			continue
		}
		p.i++
		if c == '"' {
			break
		}
	}
	raw := p.s[start:min(p.i, len(p.s))]
	if !escaped && utf8.ValidString(raw) {
		return raw[1 : len(raw)-1]
	}
	var out string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return raw // unreachable for valid JSON
	}
	return out
}

func (p *spanParser) number() json.Number {
	start := p.i
	for p.i < len(p.s) && isNumberByte(p.s[p.i]) {
		p.i++
	}
	return json.Number(p.s[start:p.i])
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func escapePointer(k string) string {
	for i := 0; i < len(k); i++ {
		if k[i] == '~' || k[i] == '/' {
			return Path{k}.Pointer()[1:]
		}
	}
	return k
}

// LineCol turns a byte offset in text into a 1-based line and column;
// columns count characters, as YAML positions do.
func LineCol(text string, off int) (line, col int) {
	if off > len(text) {
		off = len(text)
	}
	line, col = 1, 1
	for i := 0; i < off; {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += size
	}
	return line, col
}
