package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aider"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// fuzzFileNames are the names a fuzzed file is linted under: the name
// decides whether it is read as YAML, as JSON (a standalone Bifrost
// config.json) or as an Aider config.
var fuzzFileNames = []string{"manifest.yaml", "config.json", aider.ConfigFileName}

// fuzzDeadline is how long one input may take before it counts as a hang:
// no seed takes a tenth of it.
const fuzzDeadline = 10 * time.Second

// maxSeedSize leaves out the largest fixtures: the fuzzer mutates small
// inputs far faster, and they reach the same code.
const maxSeedSize = 32 << 10

var (
	fuzzEngineOnce sync.Once
	fuzzEngine     *rules.Engine
	fuzzEngineErr  error
)

// lintEngine is the engine `gjallar lint` builds by default: the built-in
// rules and the built-in Rego policies. It is built once per fuzz worker.
func lintEngine(t testing.TB) *rules.Engine {
	fuzzEngineOnce.Do(func() {
		set, err := policies.Load(policies.Options{Builtin: true})
		if err != nil {
			fuzzEngineErr = err
			return
		}
		fuzzEngine, fuzzEngineErr = rules.NewEngine(builtin.Rules(), nil, set)
	})
	if fuzzEngineErr != nil {
		t.Fatal(fuzzEngineErr)
	}
	return fuzzEngine
}

// addFixtureSeeds adds every small YAML and JSON file under the
// repository's fixture directories, each under the name its extension (or
// base name) makes it read as.
func addFixtureSeeds(f *testing.F) {
	n := 0
	for _, root := range []string{"../testdata", "../rules/testdata"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if ext != ".yaml" && ext != ".yml" && ext != ".json" {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil || len(data) > maxSeedSize {
				return err
			}
			name := uint8(0)
			switch {
			case filepath.Base(p) == aider.ConfigFileName:
				name = 2
			case ext == ".json":
				name = 1
			}
			f.Add(data, name)
			n++
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	if n == 0 {
		f.Fatal("no fixtures found to seed from")
	}
	// Shapes the fixtures lack: a List, an alias bomb, deep nesting, a
	// Bifrost config embedded in a ConfigMap, broken and empty documents.
	for _, s := range []struct {
		text string
		name uint8
	}{
		{"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n", 0},
		{"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", 0},
		{strings.Repeat("[", 2000) + strings.Repeat("]", 2000), 1},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bifrost-config}\ndata:\n  config.json: |\n    {\"providers\": {\"openai\": {\"keys\": [{\"value\": \"env.K\"}]}}}\n", 0},
		{"---\n--- {a: 1}\n...\n\tkind: x\n---\n", 0},
		{`{"providers": {"openai": {"keys": [{"name": "k", "value": "sk-x", "weight": 1, "models": ["*"]}]}}}`, 1},
		{"model: gpt-4o\nweak-model: 3\n", 2},
	} {
		f.Add([]byte(s.text), s.name)
	}
}

// lintFile lints one file as `gjallar lint FILE` does, failing the test if
// it takes longer than fuzzDeadline.
func lintFile(t *testing.T, engine *rules.Engine, path string) (*Report, *Input, error) {
	t.Helper()
	type result struct {
		rep *Report
		in  *Input
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, in, err := Lint(engine, Options{Paths: []string{path}})
		done <- result{rep, in, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.in, r.err
	case <-time.After(fuzzDeadline):
		t.Fatalf("lint of %s did not finish within %s", path, fuzzDeadline)
		return nil, nil, nil
	}
}

func writeFuzzFile(t *testing.T, data []byte, name uint8) (string, string) {
	t.Helper()
	base := fuzzFileNames[int(name)%len(fuzzFileNames)]
	path := filepath.Join(t.TempDir(), base)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.ToSlash(path)
}

// FuzzLoad lints arbitrary bytes as one file: the loader and the rules
// must neither panic nor hang, and whatever is wrong with the input comes
// back as findings that name the file at a real position.
func FuzzLoad(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, name uint8) {
		engine := lintEngine(t)
		path, shown := writeFuzzFile(t, data, name)
		rep, in, err := lintFile(t, engine, path)
		if err != nil {
			if !strings.Contains(err.Error(), shown) {
				t.Fatalf("error does not name the file %s: %v", shown, err)
			}
			return
		}
		if len(in.Sources) != 1 {
			t.Fatalf("one file read as %d sources", len(in.Sources))
		}
		lines := yamlLines(data)
		for _, fd := range rep.Findings {
			if fd.File == "" {
				continue // a finding about an object with no place in a file
			}
			if fd.File != shown {
				t.Fatalf("finding names %q, not the file %q: %s", fd.File, shown, fd.Message)
			}
			if fd.Line < 1 || fd.Line > lines || fd.Column < 1 {
				t.Fatalf("finding at %d:%d outside the file's %d lines: %s: %s", fd.Line, fd.Column, lines, fd.Rule, fd.Message)
			}
		}
		for _, p := range in.Problems {
			if p.Rule != rules.ParseError.ID || p.File != shown {
				t.Fatalf("load problem %s in %q, want %s in %q: %s", p.Rule, p.File, rules.ParseError.ID, shown, p.Message)
			}
		}
	})
}

// yamlLines counts lines as the YAML parser does, whose line numbers
// parse errors carry: CR, LF and CRLF end a line, and so do NEL, LS and PS.
func yamlLines(data []byte) int {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	n := 1
	for _, r := range text {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// FuzzFix runs --fix on arbitrary bytes as one file. Whatever it writes
// must parse into as many documents as before, and a lint of it must find
// nothing left that a fix could edit: every fixable finding remaining is
// one --fix reported it could not apply.
func FuzzFix(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, name uint8) {
		engine := lintEngine(t)
		path, _ := writeFuzzFile(t, data, name)
		_, before, err := lintFile(t, engine, path)
		if err != nil {
			return // FuzzLoad checks the error; there is nothing to fix
		}
		type fixed struct {
			res *FixResult
			err error
		}
		done := make(chan fixed, 1)
		go func() {
			_, res, err := Fix(engine, Options{Paths: []string{path}})
			done <- fixed{res, err}
		}()
		var res *FixResult
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("--fix failed: %v", r.err)
			}
			res = r.res
		case <-time.After(fuzzDeadline):
			t.Fatalf("--fix did not finish within %s", fuzzDeadline)
		}
		for _, msg := range res.Failed {
			if strings.Contains(msg, "did not settle") {
				t.Fatalf("--fix did not settle: %v", res.Failed)
			}
		}
		rep, after, err := lintFile(t, engine, path)
		if err != nil {
			t.Fatalf("lint after --fix: %v", err)
		}
		if res.Applied == 0 {
			out, _ := os.ReadFile(path)
			if string(out) != string(data) {
				t.Fatalf("--fix applied nothing but changed the file")
			}
		}
		if after.Parsed != before.Parsed || len(after.Documents) != len(before.Documents) || len(after.Problems) != len(before.Problems) {
			out, _ := os.ReadFile(path)
			t.Fatalf("--fix changed the file's shape: %d parsed, %d objects, %d problems before; %d, %d, %d after:\n%s",
				before.Parsed, len(before.Documents), len(before.Problems), after.Parsed, len(after.Documents), len(after.Problems), out)
		}
		fixable := 0
		for _, fd := range rep.Findings {
			if fd.Fix == nil || fd.doc == nil {
				continue
			}
			plannable := true
			for _, e := range fd.Fix.Edits {
				if _, err := planEdit(fd.doc, e); err != nil {
					plannable = false
				}
			}
			if plannable && len(fd.Fix.Edits) > 0 {
				fixable++
				out, _ := os.ReadFile(path)
				t.Errorf("fixable finding left after --fix (%d applied): %s:%d:%d %s: %s\n%s", res.Applied, fd.File, fd.Line, fd.Column, fd.Rule, fd.Message, out)
			}
		}
		if fixable > 0 {
			t.FailNow()
		}
	})
}
