package bifrost

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gjallar-dev/gjallar/rules"
)

// TestBifrostSchemaFixtures holds the embedded schema to the fixtures in
// testdata/schema: every valid config passes, every invalid one fails at
// exactly the locations EXPECT.txt lists.
func TestBifrostSchemaFixtures(t *testing.T) {
	sch, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "testdata", "schema")
	valid, _ := filepath.Glob(filepath.Join(dir, "valid", "*.json"))
	if len(valid) == 0 {
		t.Fatal("no valid fixtures")
	}
	for _, f := range valid {
		if err := sch.Validate(loadJSON(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	expect := map[string][]string{}
	file, err := os.Open(filepath.Join(dir, "invalid", "EXPECT.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		expect[fields[0]] = append(expect[fields[0]], strings.TrimPrefix(fields[1], "#"))
	}
	invalid, _ := filepath.Glob(filepath.Join(dir, "invalid", "*.json"))
	if len(invalid) != len(expect) {
		t.Errorf("%d invalid fixtures, %d in EXPECT.txt", len(invalid), len(expect))
	}
	for _, f := range invalid {
		name := filepath.Base(f)
		verr, ok := sch.Validate(loadJSON(t, f)).(*jsonschema.ValidationError)
		if !ok {
			t.Errorf("%s: passes the schema", name)
			continue
		}
		var got []string
		for _, leaf := range LeafErrors(verr) {
			got = append(got, rules.Path(leaf.InstanceLocation).Pointer())
		}
		sort.Strings(got)
		want := expect[name]
		sort.Strings(want)
		if strings.Join(dedupe(got), " ") != strings.Join(want, " ") {
			t.Errorf("%s: fails at %v, want %v", name, got, want)
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func loadJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}
