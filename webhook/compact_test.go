package webhook

import (
	"reflect"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// compactSamples are objects as the API machinery decodes them: integers
// as int64, other numbers as float64.
var compactSamples = []string{
	`{}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","labels":{"app":"bifrost"}},"data":{"config.json":"{\"providers\":{}}","empty":""}}`,
	`{"spec":{"replicas":3,"ratio":1.5,"whole":2.0,"negative":-7,"big":9007199254740993,"tiny":1e-300,"none":null,"on":true,"off":false}}`,
	`{"list":[1,"two",[3,[4]],{"five":5},null,true,[],{}],"unicode":"héllo ✓ \u0000 \"quoted\""}`,
	`{"` + strings.Repeat("k", maxKeyLen+1) + `":"a key too long to be numbered","":"the empty key"}`,
}

func TestCompactRoundTrip(t *testing.T) {
	for _, text := range compactSamples {
		var want map[string]any
		if err := utiljson.Unmarshal([]byte(text), &want); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		b, err := encodeCompact(nil, want)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, err := decodeCompact(b)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s\n got %#v\nwant %#v", text, got, want)
		}
	}
}

// A float that happens to be whole stays a float, and an int an int: a JSON
// round trip would turn 2.0 into the integer 2.
func TestCompactKeepsNumberTypes(t *testing.T) {
	in := map[string]any{"f": float64(2), "i": int64(2)}
	b, err := encodeCompact(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeCompact(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out["f"].(float64); !ok {
		t.Errorf("f decoded as %T", out["f"])
	}
	if _, ok := out["i"].(int64); !ok {
		t.Errorf("i decoded as %T", out["i"])
	}
}

func TestCompactRejectsWhatJSONCannotHold(t *testing.T) {
	if _, err := encodeCompact(nil, map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("a channel was encoded")
	}
}

// Keys are numbered once: the same object encodes to fewer bytes than its
// keys' lengths would need.
func TestCompactNumbersKeys(t *testing.T) {
	key := "terminationMessagePolicy-" + t.Name()
	b, err := encodeCompact(nil, map[string]any{key: int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= len(key) {
		t.Errorf("%d bytes for a %d-byte key: not numbered", len(b), len(key))
	}
}

func TestCompactCorruptInput(t *testing.T) {
	good, err := encodeCompact(nil, map[string]any{"a": []any{"b", int64(1), 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(good) {
		if _, err := decodeCompact(good[:n]); err == nil {
			t.Errorf("a truncation to %d of %d bytes decoded", n, len(good))
		}
	}
	for _, b := range [][]byte{
		{tagString, 1, 'x'},                 // not a map
		{tagMap, 1, 0xff, 0xff, 0xff},       // an unterminated key length
		{tagMap, 1, 0xff, 0xff, 0xff, 0x7f}, // a key number not in the table
		{tagList, 0xff, 0xff, 0xff, 0x0f},   // a count larger than the bytes left
		{99},
		append(append([]byte{}, good...), tagNull), // trailing bytes
	} {
		if _, err := decodeCompact(b); err == nil {
			t.Errorf("%v decoded", b)
		}
	}
}

// FuzzCompactDecode: no input makes the decoder panic (the cache only
// decodes what it encoded, but a bug must not crash the webhook), and
// whatever decodes encodes back to something that decodes the same.
func FuzzCompactDecode(f *testing.F) {
	for _, text := range compactSamples {
		var m map[string]any
		utiljson.Unmarshal([]byte(text), &m)
		b, _ := encodeCompact(nil, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeCompact(b)
		if err != nil {
			return
		}
		again, err := encodeCompact(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeCompact(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoding changed %#v into %#v (%v)", m, m2, err)
		}
	})
}

// FuzzCompactRoundTrip: any JSON object the API machinery decodes comes
// back from the compact form unchanged.
func FuzzCompactRoundTrip(f *testing.F) {
	for _, text := range compactSamples {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var want map[string]any
		if utiljson.Unmarshal([]byte(text), &want) != nil || want == nil {
			return
		}
		b, err := encodeCompact(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeCompact(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, %v", text, got, err)
		}
	})
}
