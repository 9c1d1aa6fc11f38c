package rules

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONSpans(t *testing.T) {
	text := "{\n  \"a\": [1, {\"b\": \"x\\\"y\"}],\n  \"c~/d\": null\n}"
	doc, spans, err := ParseJSON(text)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{json.Number("1"), map[string]any{"b": `x"y`}}, "c~/d": nil}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("doc = %#v", doc)
	}
	cases := []struct {
		ptr       string
		key, text string
	}{
		{"/a", `"a"`, `[1, {"b": "x\"y"}]`},
		{"/a/0", "", "1"},
		{"/a/1/b", `"b"`, `"x\"y"`},
		{"/c~0~1d", `"c~/d"`, "null"},
		{"", "", text},
	}
	for _, c := range cases {
		s, ok := spans[c.ptr]
		if !ok {
			t.Errorf("no span for %q", c.ptr)
			continue
		}
		if got := text[s.Start:s.End]; got != c.text {
			t.Errorf("%q value = %q, want %q", c.ptr, got, c.text)
		}
		if c.key == "" {
			if s.Key != -1 {
				t.Errorf("%q has key offset %d, want none", c.ptr, s.Key)
			}
		} else if !strings.HasPrefix(text[s.Key:], c.key) {
			t.Errorf("%q key at %d = %q", c.ptr, s.Key, text[s.Key:s.Key+len(c.key)])
		}
	}
}

func TestParseJSONErrorOffset(t *testing.T) {
	text := "{\n  \"a\": 1,\n}"
	_, _, err := ParseJSON(text)
	if err == nil {
		t.Fatal("want a syntax error")
	}
	line, col := LineCol(text, err.Offset)
	if line != 3 || col != 1 {
		t.Errorf("error at %d:%d (%s), want 3:1", line, col, err.Msg)
	}
}

// FuzzParseJSON checks the span parser decodes exactly what encoding/json
// decodes, and that every span it records slices the text.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2,{"a":"b"}]`, `{"a":{"b":[true,false,null,-1.5e3]}}`, `"\u00e9\n"`, `{"a":1,"a":2}`, ` [ ] `, "\"\xdf\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		doc, spans, err := ParseJSON(text)
		var want any
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.UseNumber()
		stdErr := dec.Decode(&want)
		if stdErr == nil && !json.Valid([]byte(text)) {
			stdErr = err // trailing data: both must reject
		}
		if (err != nil) != (stdErr != nil) {
			t.Fatalf("ParseJSON err=%v, encoding/json err=%v", err, stdErr)
		}
		if err != nil {
			if err.Offset < 0 || err.Offset > len(text) {
				t.Fatalf("error offset %d outside text of %d bytes", err.Offset, len(text))
			}
			return
		}
		if !reflect.DeepEqual(doc, want) {
			t.Fatalf("ParseJSON = %#v, encoding/json = %#v", doc, want)
		}
		for ptr, s := range spans {
			if s.Start < 0 || s.End > len(text) || s.Start > s.End || s.Key >= s.Start {
				t.Fatalf("span %q = %+v out of range", ptr, s)
			}
		}
	})
}
