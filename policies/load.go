package policies

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gjallar-dev/gjallar/rules"
)

// sources are the parsed policy files and what is known about them before
// evaluation.
type sources struct {
	modules map[string]*ast.Module // by file name
	// userFiles counts the users' files among modules.
	userFiles int
	// builtin marks the packages of the embedded policies.
	builtin map[string]bool
	// user lists the packages of users' files, sorted.
	user []string
	// ruleNames lists each package's rule names, sorted.
	ruleNames map[string][]string
	// ruleWhere is file:line of a rule's first definition, by data.<pkg>.<name>.
	ruleWhere map[string]string
	// literalIDs are the "rule" fields written as string literals in a
	// rule's result objects, by data.<pkg>.<name>.
	literalIDs map[string][]literalID
	// paths are the packages' refs, by package name.
	paths map[string]ast.Ref
}

// ruleRef names a rule the way queries and messages do: data.main.deny.
func (src *sources) ruleRef(pkg, name string) string {
	return src.paths[pkg].Append(ast.StringTerm(name)).String()
}

// packageName is how options and IDs name a package: main for data.main.
func packageName(m *ast.Module) string {
	return strings.TrimPrefix(m.Package.Path.String(), "data.")
}

type literalID struct {
	id, where string
	severity  rules.Severity // from a literal "severity" beside it, or 0
}

// readSources parses the built-in and users' policy files. Every file is
// parsed before giving up, so one run reports every syntax error.
func readSources(opts Options) (*sources, error) {
	src := &sources{
		modules:    map[string]*ast.Module{},
		builtin:    map[string]bool{},
		ruleNames:  map[string][]string{},
		ruleWhere:  map[string]string{},
		literalIDs: map[string][]literalID{},
		paths:      map[string]ast.Ref{},
	}
	var errs ast.Errors
	if opts.Builtin {
		files, err := builtinFiles(opts.Tests)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			m, err := parse(f.name, f.text, ast.RegoV1)
			if err != nil {
				errs = append(errs, astErrors(err)...)
				continue
			}
			src.modules[f.name] = m
			src.builtin[packageName(m)] = true
		}
	}
	version := ast.RegoV1
	if opts.RegoV0 {
		version = ast.RegoV0
	}
	userPkgs := map[string]bool{}
	for _, p := range opts.Paths {
		files, err := regoFiles(p, opts.Tests)
		if err != nil {
			return nil, err
		}
		for _, name := range files {
			name = filepath.Clean(name)
			text, err := os.ReadFile(name)
			if err != nil {
				return nil, err
			}
			m, err := parse(name, string(text), version)
			if err != nil {
				errs = append(errs, astErrors(err)...)
				continue
			}
			if _, dup := src.modules[name]; dup {
				continue // the same file named twice
			}
			src.modules[name] = m
			src.userFiles++
			userPkgs[packageName(m)] = true
		}
	}
	if len(errs) > 0 {
		return nil, compileError(errs)
	}
	for pkg := range userPkgs {
		if src.builtin[pkg] {
			return nil, fmt.Errorf("package %s is one of gjallar's built-in policies; rename the package", pkg)
		}
		src.user = append(src.user, pkg)
	}
	sort.Strings(src.user)
	src.index()
	return src, nil
}

func parse(name, text string, version ast.RegoVersion) (*ast.Module, error) {
	return ast.ParseModuleWithOpts(name, text, ast.ParserOptions{RegoVersion: version, ProcessAnnotation: true})
}

func astErrors(err error) ast.Errors {
	var errs ast.Errors
	if errors.As(err, &errs) {
		return errs
	}
	return ast.Errors{ast.NewError(ast.ParseErr, nil, "%s", err.Error())}
}

// regoFiles lists the .rego files at path: the file itself, or the files
// under a directory, in lexical order.
func regoFiles(path string, tests bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		if !strings.HasSuffix(path, ".rego") {
			return nil, fmt.Errorf("%s: not a .rego file", path)
		}
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".rego") && (tests || !strings.HasSuffix(p, "_test.rego")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no .rego files", path)
	}
	return out, nil
}

// index records each package's rule names, where they are defined, and the
// literal rule IDs in their results.
func (src *sources) index() {
	names := map[string]map[string]bool{}
	for _, file := range slices.Sorted(maps.Keys(src.modules)) {
		m := src.modules[file]
		pkg := packageName(m)
		src.paths[pkg] = m.Package.Path
		if names[pkg] == nil {
			names[pkg] = map[string]bool{}
		}
		for _, r := range m.Rules {
			name, ok := ruleName(r)
			if !ok {
				continue
			}
			ref := src.ruleRef(pkg, name)
			if !names[pkg][name] {
				names[pkg][name] = true
				src.ruleWhere[ref] = fmt.Sprintf("%s:%d", file, r.Location.Row)
			}
			src.literalIDs[ref] = append(src.literalIDs[ref], literalRuleIDs(r)...)
		}
	}
	for pkg, set := range names {
		src.ruleNames[pkg] = slices.Sorted(maps.Keys(set))
	}
}

// ruleName is the name a rule defines in its package: deny for
// `deny contains msg if`, and for `deny[msg]` in Rego v0.
func ruleName(r *ast.Rule) (string, bool) {
	ref := r.Head.Ref()
	if len(ref) == 0 {
		return "", false
	}
	v, ok := ref[0].Value.(ast.Var)
	return string(v), ok
}

// literalRuleIDs finds object literals with a string "rule" field in a
// rule, so configs can name those IDs before any finding has them; a
// literal "severity" beside it gives the ID's default severity.
func literalRuleIDs(r *ast.Rule) []literalID {
	var out []literalID
	ast.WalkTerms(r, func(t *ast.Term) bool {
		obj, ok := t.Value.(ast.Object)
		if !ok {
			return false
		}
		if v := obj.Get(ast.StringTerm("rule")); v != nil {
			if s, ok := v.Value.(ast.String); ok && string(s) != "" {
				where := ""
				if v.Location != nil {
					where = fmt.Sprintf("%s:%d", v.Location.File, v.Location.Row)
				}
				lit := literalID{id: string(s), where: where}
				if sev := obj.Get(ast.StringTerm("severity")); sev != nil {
					if str, ok := sev.Value.(ast.String); ok {
						lit.severity, _ = rules.ParseSeverity(string(str))
					}
				}
				out = append(out, lit)
			}
		}
		return false
	})
	return out
}

// selectPackages returns the packages whose rules run: every built-in one,
// and the users' packages the options select.
func selectPackages(src *sources, opts Options) ([]string, error) {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(src.builtin)) {
		out = append(out, pkg)
	}
	if len(opts.Paths) == 0 {
		return out, nil
	}
	if opts.AllNamespaces {
		for _, pkg := range src.user {
			if !strings.HasSuffix(pkg, "_test") {
				out = append(out, pkg)
			}
		}
		return out, nil
	}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{"main"}
	}
	have := map[string]bool{}
	for _, pkg := range src.user {
		have[pkg] = true
	}
	for _, ns := range namespaces {
		if !have[ns] {
			return nil, fmt.Errorf("no policy in %s has package %s (packages: %s); select them with --namespace or --all-namespaces",
				strings.Join(opts.Paths, ", "), ns, strings.Join(src.user, ", "))
		}
		out = append(out, ns)
	}
	return out, nil
}

// ruleMeta is what a rule's METADATA annotation says about it.
type ruleMeta struct {
	id, title, description string
	severity               rules.Severity
	where                  string
}

// collectMetadata reads METADATA annotations: rule and document scope apply
// to their rule, package scope to every rule of the package without its
// own. custom.id and custom.severity set the rule's default ID and severity.
func collectMetadata(src *sources) (map[string]*ruleMeta, error) {
	byRule := map[string]*ruleMeta{}
	byPkg := map[string]*ruleMeta{}
	for _, file := range slices.Sorted(maps.Keys(src.modules)) {
		m := src.modules[file]
		for _, a := range m.Annotations {
			rm, err := annotationMeta(a)
			if err != nil {
				return nil, err
			}
			target := a.GetTargetPath().String()
			dst := byRule
			if a.Scope == "package" || a.Scope == "subpackages" {
				dst = byPkg
			}
			if old := dst[target]; old != nil {
				if rm.id != "" && old.id != "" && rm.id != old.id {
					return nil, &CompileError{[]string{fmt.Sprintf("%s: %s already has custom.id %q (%s): the results of one rule cannot be told apart; rename one rule (deny_x) or set rule in its results",
						rm.where, target, old.id, old.where)}}
				}
				mergeMeta(old, rm)
				continue
			}
			dst[target] = rm
		}
	}
	for ref := range src.ruleWhere {
		pkg := ref[:strings.LastIndex(ref, ".")]
		if p := byPkg[pkg]; p != nil {
			if byRule[ref] == nil {
				cp := *p
				byRule[ref] = &cp
			} else {
				mergeMeta(byRule[ref], p)
			}
		}
	}
	return byRule, nil
}

func mergeMeta(dst, src *ruleMeta) {
	if dst.id == "" {
		dst.id = src.id
	}
	if dst.title == "" {
		dst.title = src.title
	}
	if dst.description == "" {
		dst.description = src.description
	}
	if dst.severity == 0 {
		dst.severity = src.severity
	}
}

func annotationMeta(a *ast.Annotations) (*ruleMeta, error) {
	rm := &ruleMeta{title: a.Title, description: strings.TrimSpace(a.Description)}
	if a.Location != nil {
		rm.where = fmt.Sprintf("%s:%d", a.Location.File, a.Location.Row)
	}
	if id, ok := a.Custom["id"]; ok {
		s, ok := id.(string)
		if !ok || s == "" {
			return nil, &CompileError{[]string{fmt.Sprintf("%s: custom.id must be a non-empty string", rm.where)}}
		}
		rm.id = s
	}
	if sev, ok := a.Custom["severity"]; ok {
		s, _ := sev.(string)
		v, err := rules.ParseSeverity(s)
		if err != nil {
			return nil, &CompileError{[]string{fmt.Sprintf("%s: custom.severity: %v", rm.where, err)}}
		}
		rm.severity = v
	}
	return rm, nil
}
