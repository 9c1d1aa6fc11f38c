package v1alpha2

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// crdDir holds the CRDs generated from these types (go generate).
var crdDir = filepath.Join("..", "..", "..", "charts", "gjallar", "files", "crds")

// schemaOf reads a generated CRD's only version's schema.
func schemaOf(t *testing.T, file string) (map[string]any, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(crdDir, file))
	if err != nil {
		t.Fatalf("%v (go generate ./audit/... writes it)", err)
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	spec := crd["spec"].(map[string]any)
	versions := spec["versions"].([]any)
	if len(versions) != 1 {
		t.Fatalf("%s: %d versions, want v1alpha2 only", file, len(versions))
	}
	v := versions[0].(map[string]any)
	return spec, v["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
}

// shape flattens a schema into one line per field: path, type, and enum
// and required where set; descriptions are left out.
func shape(prefix string, s map[string]any, out *[]string) {
	line := prefix + " " + s["type"].(string)
	if f, ok := s["format"].(string); ok {
		line += " format=" + f
	}
	if e, ok := s["enum"].([]any); ok {
		var vals []string
		for _, v := range e {
			vals = append(vals, v.(string))
		}
		line += " enum=" + strings.Join(vals, ",")
	}
	if r, ok := s["required"].([]any); ok {
		var vals []string
		for _, v := range r {
			vals = append(vals, v.(string))
		}
		sort.Strings(vals)
		line += " required=" + strings.Join(vals, ",")
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		line += " values=" + ap["type"].(string)
	}
	*out = append(*out, strings.TrimSpace(line))
	if props, ok := s["properties"].(map[string]any); ok {
		for name, p := range props {
			shape(prefix+"."+name, p.(map[string]any), out)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		shape(prefix+"[]", items, out)
	}
}

// TestCRDMatchesUpstreamShape holds the generated CRDs to the shape of
// the wgpolicyk8s.io/v1alpha2 CRDs that Kyverno and the policy working
// group install (testdata/policyreport/v1alpha2.shape lists their fields,
// types, enums and required fields), so reports gjallar writes load into
// clusters that already have those CRDs and show in their viewers.
func TestCRDMatchesUpstreamShape(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "policyreport", "v1alpha2.shape"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, kind, scope, short string }{
		{"wgpolicyk8s.io_policyreports.yaml", "PolicyReport", "Namespaced", "polr"},
		{"wgpolicyk8s.io_clusterpolicyreports.yaml", "ClusterPolicyReport", "Cluster", "cpolr"},
	} {
		spec, schema := schemaOf(t, c.file)
		names := spec["names"].(map[string]any)
		if spec["group"] != "wgpolicyk8s.io" || names["kind"] != c.kind || spec["scope"] != c.scope ||
			!reflect.DeepEqual(names["shortNames"], []any{c.short}) {
			t.Errorf("%s: group %v kind %v scope %v shortNames %v", c.file, spec["group"], names["kind"], spec["scope"], names["shortNames"])
		}
		var lines []string
		shape("", schema, &lines)
		sort.Strings(lines)
		if got := strings.Join(lines, "\n") + "\n"; got != string(want) {
			t.Errorf("%s differs from the upstream shape:\n%s", c.file, diffLines(string(want), got))
		}
		var cols []string
		for _, col := range spec["versions"].([]any)[0].(map[string]any)["additionalPrinterColumns"].([]any) {
			m := col.(map[string]any)
			cols = append(cols, m["name"].(string)+"="+m["jsonPath"].(string))
		}
		if got := strings.Join(cols, " "); got != "Kind=.scope.kind Name=.scope.name Pass=.summary.pass Fail=.summary.fail Warn=.summary.warn Error=.summary.error Skip=.summary.skip Age=.metadata.creationTimestamp" {
			t.Errorf("%s: printer columns %s", c.file, got)
		}
	}
}

func diffLines(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestTypesMatchCRD walks the Go types' JSON fields and the CRD schema
// together: a field added to one and not regenerated into the other fails.
func TestTypesMatchCRD(t *testing.T) {
	_, schema := schemaOf(t, "wgpolicyk8s.io_policyreports.yaml")
	var walk func(path string, typ reflect.Type, s map[string]any)
	walk = func(path string, typ reflect.Type, s map[string]any) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
			if items, ok := s["items"].(map[string]any); ok {
				s = items
			}
		}
		if typ.Kind() != reflect.Struct || path == ".metadata" {
			return
		}
		props, _ := s["properties"].(map[string]any)
		fields := map[string]reflect.Type{}
		var collect func(typ reflect.Type)
		collect = func(typ reflect.Type) {
			for i := range typ.NumField() {
				f := typ.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "" && f.Anonymous {
					collect(f.Type)
					continue
				}
				if name != "" && name != "-" {
					fields[name] = f.Type
				}
			}
		}
		collect(typ)
		for name, ft := range fields {
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("Go field %s.%s is not in the CRD", path, name)
				continue
			}
			walk(path+"."+name, ft, p)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				t.Errorf("CRD field %s.%s has no Go field", path, name)
			}
		}
	}
	walk("", reflect.TypeFor[PolicyReport](), schema)
}
