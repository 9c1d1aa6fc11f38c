package webhook

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// The cache keeps each object's content in a compact binary form rather than
// as decoded JSON: a map[string]any costs about 7 bytes of heap per byte of
// JSON (every nested object is a hash table of at least eight slots), while
// this form costs about one, holds no pointers for the collector to mark, and
// decodes back to exactly the values it was made from (integers stay int64,
// floats stay float64, which a JSON round trip would not guarantee).
//
// Each value is a tag byte and its payload:
//
//	null, false, true       the tag alone
//	int                     zigzag varint
//	float                   8 bytes, IEEE 754 little endian
//	string                  uvarint length, bytes
//	list                    uvarint count, values
//	map                     uvarint count, then key and value pairs
//
// A map key is uvarint n: n odd is the key numbered n>>1 in the process's
// key table, n even a key of n>>1 bytes that follow. Keys are half of a
// typical object's bytes and few distinct ones exist (field names, common
// labels and annotations), so each is stored once per process; decoded
// objects then share those strings too.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagList
	tagMap
)

// errCorrupt means compact bytes that this encoder cannot have written.
var errCorrupt = errors.New("corrupt compact object")

// encodeCompact appends v, a value decoded from JSON, in compact form; equal
// values encode to equal bytes.
func encodeCompact(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, tagNull), nil
	case bool:
		if x {
			return append(buf, tagTrue), nil
		}
		return append(buf, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(buf, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(buf, tagInt), int64(x)), nil
	case int32:
		return binary.AppendVarint(append(buf, tagInt), int64(x)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return binary.LittleEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(x)), nil
	case json.Number:
		// What a decoder told to keep numbers as text yields: stored as the
		// integer or float the API machinery would have made of it.
		if i, err := x.Int64(); err == nil {
			return binary.AppendVarint(append(buf, tagInt), i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", x, err)
		}
		return binary.LittleEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(f)), nil
	case string:
		buf = binary.AppendUvarint(append(buf, tagString), uint64(len(x)))
		return append(buf, x...), nil
	case []any:
		buf = binary.AppendUvarint(append(buf, tagList), uint64(len(x)))
		for _, e := range x {
			var err error
			if buf, err = encodeCompact(buf, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	case map[string]any:
		buf = binary.AppendUvarint(append(buf, tagMap), uint64(len(x)))
		// Keys in order, so that equal objects encode to equal bytes.
		var small [16]string
		sorted := small[:0]
		for k := range x {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			e := x[k]
			if id, ok := keys.id(k); ok {
				buf = binary.AppendUvarint(buf, uint64(id)<<1|1)
			} else {
				buf = binary.AppendUvarint(buf, uint64(len(k))<<1)
				buf = append(buf, k...)
			}
			var err error
			if buf, err = encodeCompact(buf, e); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return buf, nil
	}
	return nil, fmt.Errorf("value of type %T is not JSON", v)
}

// decodeCompact decodes the compact object held in b: the object's content
// as a JSON decoder would have produced it.
func decodeCompact(b []byte) (map[string]any, error) {
	d := compactDecoder{b: b, keys: keys.snapshot()}
	v := d.value(0)
	if d.err != nil {
		return nil, d.err
	}
	m, ok := v.(map[string]any)
	if !ok || d.off != len(b) {
		return nil, errCorrupt
	}
	return m, nil
}

type compactDecoder struct {
	b    []byte
	off  int
	err  error
	keys []string
}

// maxCompactDepth bounds recursion; the API server's own limit on nesting
// is lower.
const maxCompactDepth = 10000

func (d *compactDecoder) value(depth int) any {
	if d.err != nil {
		return nil
	}
	if d.off >= len(d.b) || depth > maxCompactDepth {
		d.err = errCorrupt
		return nil
	}
	tag := d.b[d.off]
	d.off++
	switch tag {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		i, n := binary.Varint(d.b[d.off:])
		if n <= 0 {
			d.err = errCorrupt
			return nil
		}
		d.off += n
		return i
	case tagFloat:
		if len(d.b)-d.off < 8 {
			d.err = errCorrupt
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
		d.off += 8
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// No JSON value decodes to these, so the bytes are not ours
			// (and NaN would defeat every comparison a rule makes).
			d.err = errCorrupt
			return nil
		}
		return f
	case tagString:
		return d.string()
	case tagList:
		n := d.count()
		if d.err != nil {
			return nil
		}
		list := make([]any, n)
		for i := range list {
			list[i] = d.value(depth + 1)
		}
		return list
	case tagMap:
		n := d.count()
		if d.err != nil {
			return nil
		}
		m := make(map[string]any, n)
		for range n {
			k := d.key()
			m[k] = d.value(depth + 1)
		}
		return m
	}
	d.err = errCorrupt
	return nil
}

// count reads a list or map length, which cannot exceed the bytes left
// (every element takes at least one).
func (d *compactDecoder) count() int {
	n, w := binary.Uvarint(d.b[d.off:])
	if w <= 0 || n > uint64(len(d.b)-d.off-w) {
		d.err = errCorrupt
		return 0
	}
	d.off += w
	return int(n)
}

func (d *compactDecoder) string() string {
	if d.err != nil {
		return ""
	}
	n, w := binary.Uvarint(d.b[d.off:])
	return d.bytes(n, w)
}

func (d *compactDecoder) key() string {
	if d.err != nil {
		return ""
	}
	n, w := binary.Uvarint(d.b[d.off:])
	if w > 0 && n&1 == 1 {
		if id := n >> 1; id < uint64(len(d.keys)) {
			d.off += w
			return d.keys[id]
		}
		d.err = errCorrupt
		return ""
	}
	return d.bytes(n>>1, w)
}

// bytes reads the n bytes after a w-byte length as a string.
func (d *compactDecoder) bytes(n uint64, w int) string {
	if w <= 0 || n > uint64(len(d.b)-d.off-w) {
		d.err = errCorrupt
		return ""
	}
	start := d.off + w
	d.off = start + int(n)
	return string(d.b[start:d.off])
}

// keys is the process's key table.
var keys = &keyTable{ids: map[string]uint32{}}

// keyTable numbers map keys. It only grows, up to maxKeys keys of at most
// maxKeyLen bytes (about 5 MiB); longer keys, and new keys once it is full,
// are stored inline, so a cluster full of unique keys (ConfigMap file names,
// generated labels) costs what it would without the table.
type keyTable struct {
	mu   sync.RWMutex
	ids  map[string]uint32
	list []string
}

const (
	maxKeys   = 1 << 16
	maxKeyLen = 64
)

// id returns the key's number, numbering it if there is room.
func (t *keyTable) id(k string) (uint32, bool) {
	if len(k) > maxKeyLen {
		return 0, false
	}
	t.mu.RLock()
	id, ok := t.ids[k]
	full := len(t.list) >= maxKeys
	t.mu.RUnlock()
	if ok || full {
		return id, ok
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[k]; ok {
		return id, true
	}
	if len(t.list) >= maxKeys {
		return 0, false
	}
	k = strings.Clone(k) // not a slice of some larger decoded object
	id = uint32(len(t.list))
	t.list = append(t.list, k)
	t.ids[k] = id
	return id, true
}

// snapshot returns the keys numbered so far. The table only appends, so
// every number written before the call stays valid in the returned slice.
func (t *keyTable) snapshot() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.list
}
