package builtin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The layout of rules/ keeps the engine apart from what it runs, one model
// per guarded system, and rules grouped by system that share nothing with
// each other's files. These tests hold it to that.

const module = "github.com/gjallar-dev/gjallar/rules"

// parseDir parses the non-test Go files of a directory under rules/.
func parseDir(t *testing.T, dir string) map[string]*ast.File {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("..", dir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ast.File{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join("..", dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = f
	}
	return out
}

// packages lists the directories under rules/ holding Go code, "" for
// rules/ itself.
func packages(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || strings.Contains(p, "testdata") {
			return err
		}
		if matches, _ := filepath.Glob(filepath.Join(p, "*.go")); len(matches) > 0 {
			rel, _ := filepath.Rel("..", p)
			if rel == "." {
				rel = ""
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func imports(f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		out = append(out, strings.Trim(imp.Path.Value, `"`))
	}
	return out
}

// TestEngineKnowsNoProduct: the engine names none of the systems the rules
// guard and imports none of the packages under it.
func TestEngineKnowsNoProduct(t *testing.T) {
	product := regexp.MustCompile(`(?i)bifrost|kgateway|langfuse|aider|vllm|\baws\b|cloudfront`)
	for name, f := range parseDir(t, "") {
		text, _ := os.ReadFile(filepath.Join("..", name))
		if m := product.Find(text); m != nil {
			t.Errorf("rules/%s mentions %q: the engine must know no product", name, m)
		}
		for _, imp := range imports(f) {
			if strings.HasPrefix(imp, module+"/") {
				t.Errorf("rules/%s imports %s", name, imp)
			}
		}
	}
}

// TestModelsImportNoRules: a model package (rules/<system>) may build on
// the engine and other models, never on rules (a checks package) or the
// registry.
func TestModelsImportNoRules(t *testing.T) {
	for _, dir := range packages(t) {
		if dir == "" || dir == "builtin" || strings.HasSuffix(dir, "/checks") {
			continue
		}
		for name, f := range parseDir(t, dir) {
			for _, imp := range imports(f) {
				if strings.HasSuffix(imp, "/checks") || strings.HasSuffix(imp, "/builtin") {
					t.Errorf("model rules/%s/%s imports %s", dir, name, imp)
				}
			}
		}
	}
}

// TestRulesBorrowNothingFromEachOther: in a checks package, each rule's
// file uses only its own declarations, the models, and the package's
// helpers.go; what two rules share belongs in a model or in helpers.go.
func TestRulesBorrowNothingFromEachOther(t *testing.T) {
	for _, dir := range packages(t) {
		if !strings.HasSuffix(dir, "/checks") {
			continue
		}
		files := parseDir(t, dir)
		declaredIn := map[string]string{}
		for name, f := range files {
			for _, d := range f.Decls {
				for _, id := range declaredNames(d) {
					declaredIn[id] = name
				}
			}
		}
		for name, f := range files {
			if name == "helpers.go" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				id, ok := n.(*ast.Ident)
				if !ok || id.Obj != nil {
					return true // resolved inside this file
				}
				if other, ok := declaredIn[id.Name]; ok && other != name && other != "helpers.go" {
					t.Errorf("rules/%s/%s uses %s from %s", dir, name, id.Name, other)
				}
				return true
			})
		}
	}
}

func declaredNames(d ast.Decl) []string {
	var out []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			out = append(out, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				out = append(out, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.Name != "_" {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}
