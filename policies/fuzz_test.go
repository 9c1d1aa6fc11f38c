package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
)

var (
	fuzzSetOnce sync.Once
	fuzzSet     *Set
	fuzzSetErr  error
)

func builtinSet(t testing.TB) *Set {
	fuzzSetOnce.Do(func() { fuzzSet, fuzzSetErr = Load(Options{Builtin: true}) })
	if fuzzSetErr != nil {
		t.Fatal(fuzzSetErr)
	}
	return fuzzSet
}

// FuzzRegoInput turns arbitrary JSON (as the webhook decodes an object) or
// YAML (as lint loads a file) into objects and hands them to the policies
// as input and as data.inventory: no conversion panics, a value converted
// reads back as the object it came from, lazily or in full, and each
// object sits in the inventory where Gatekeeper-style policies look.
func FuzzRegoInput(f *testing.F) {
	seeds := 0
	for _, root := range []string{"../testdata/policies", "../testdata/rules", "../testdata/examples"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ext := filepath.Ext(p)
			if ext != ".yaml" && ext != ".json" {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil || len(data) > 16<<10 {
				return err
			}
			f.Add(data, ext == ".json")
			seeds++
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	if seeds == 0 {
		f.Fatal("no fixtures found to seed from")
	}
	for _, s := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n"},"data":{"k":"v"}}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"},"spec":{"n":[1,-0,1e308,12345678901234567890,0.1,true,null,"\u0000"]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"n"},"spec":{"replicas":9007199254740993}}`,
	} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: .nan, y: .inf, z: 0x1F, w: 1_000, t: 2026-01-01}\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		set := builtinSet(t)
		objs := fuzzObjects(t, data, asJSON)
		if len(objs) == 0 {
			return
		}
		idx := rules.NewMemIndex(objs)
		r := set.Start(idx).(*run)
		for _, obj := range objs {
			doc := document(obj)
			if doc == nil {
				continue
			}
			want, err := normalJSON(doc)
			if err != nil {
				t.Fatalf("the loader produced a value JSON cannot hold: %v", err)
			}
			// Lazily, as a Check reads input before the inventory exists.
			lazy := r.input(obj)
			got, err := ast.JSON(lazy)
			if err != nil {
				t.Fatalf("lazy input does not read back: %v", err)
			}
			if !sameJSON(want, normalAST(t, got)) {
				t.Fatalf("lazy input reads back as\n%v\nwant\n%v", got, want)
			}
			full := r.value(obj)
			if full == nil {
				t.Fatalf("ast.InterfaceToValue refused an object the loader produced: %v", doc)
			}
			got, err = ast.JSON(full)
			if err != nil {
				t.Fatalf("converted object does not read back: %v", err)
			}
			if !sameJSON(want, normalAST(t, got)) {
				t.Fatalf("converted object reads back as\n%v\nwant\n%v", got, want)
			}
		}
		inv, err := ast.JSON(r.inventory())
		if err != nil {
			t.Fatalf("inventory does not read back: %v", err)
		}
		for _, obj := range objs {
			if document(obj) == nil || idx.Get(obj.GroupKind(), obj.Namespace(), obj.Name()) != obj {
				// Two objects of one identity (group, kind, namespace,
				// name) at different versions: the index, like the API
				// server, holds one, and so does the inventory.
				continue
			}
			ref := obj.Ref()
			path := []string{"cluster", ref.APIVersion, ref.Kind, ref.Name}
			if ref.Namespace != "" {
				path = []string{"namespace", ref.Namespace, ref.APIVersion, ref.Kind, ref.Name}
			}
			var at any = inv
			for _, k := range path {
				m, _ := at.(map[string]any)
				at = m[k]
			}
			if at == nil {
				t.Fatalf("%s %s/%s not in data.inventory at %s", ref.Kind, ref.Namespace, ref.Name, strings.Join(path, "."))
			}
		}
		// And the policies run on it without panicking.
		for _, obj := range objs {
			r.Check(obj)
		}
	})
}

// fuzzObjects decodes data as the webhook decodes an AdmissionReview's
// object (JSON) or as lint loads a file (YAML, several documents).
func fuzzObjects(t *testing.T, data []byte, asJSON bool) []*rules.Object {
	if asJSON {
		var m map[string]any
		if err := utiljson.Unmarshal(data, &m); err != nil || m == nil {
			return nil
		}
		return []*rules.Object{rules.NewObject(m)}
	}
	in, err := lint.Load([]string{"-"}, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("load from stdin: %v", err)
	}
	var objs []*rules.Object
	for _, d := range in.Documents {
		objs = append(objs, d.Object)
	}
	return objs
}

// normalJSON is v as encoding/json reads it back, numbers as exact
// rationals, so int64, float64 and json.Number compare by value.
func normalJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return exactNumbers(out)
}

func normalAST(t *testing.T, v any) any {
	t.Helper()
	out, err := normalJSON(v)
	if err != nil {
		t.Fatalf("OPA's JSON form does not encode: %v", err)
	}
	return out
}

func exactNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return nil, fmt.Errorf("number %q", v)
		}
		return r, nil
	case []any:
		for i := range v {
			var err error
			if v[i], err = exactNumbers(v[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range v {
			var err error
			if v[k], err = exactNumbers(v[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func sameJSON(a, b any) bool {
	switch a := a.(type) {
	case *big.Rat:
		b, ok := b.(*big.Rat)
		return ok && a.Cmp(b) == 0
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !sameJSON(av, bv) {
				return false
			}
		}
		return true
	}
	return a == b
}
