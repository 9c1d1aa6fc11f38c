// Package policies runs Rego policies as gjallar rules: the built-in ones
// embedded in the binary and users' own, written the way conftest reads them.
// A Set implements rules.Extension, so policy findings pass through the same
// config, suppression and severity handling as the Go rules, in lint and in
// the webhook alike.
//
// Conventions (conftest's): in each selected package (main unless told
// otherwise), rules named deny, violation or warn, optionally followed by
// _suffix, yield strings or objects with a string msg. Objects may also carry
// rule (the finding's ID), severity (error, warning, info) and path (where in
// the object, as "spec.template" or ["spec", "template"]). An exception rule
// yielding lists of suffixes exempts an object from deny_<suffix> and
// violation_<suffix>. input is the object; data.inventory holds every object
// of the run in Gatekeeper's shape.
package policies

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// PolicyError is the rule ID of a policy that failed while checking an
// object (a conflict between rule outputs, a malformed result): the object
// was not checked by that policy.
const PolicyError = "policy-error"

// policyErrorRule describes PolicyError for config validation and listings.
var policyErrorRule = &rules.Rule{
	ID:       PolicyError,
	Summary:  "A Rego policy that failed while checking an object, so the object went unchecked",
	Severity: rules.Error,
	Rationale: "A policy that errors has not decided anything about the object, so a problem it guards " +
		"against may be present. The message names the policy, where it failed and why; fix the " +
		"policy (gjallar policy test runs its unit tests), or lower this rule's severity in " +
		".gjallar.yaml to let objects through while it is broken.",
}

// Options says which policies to load and how to run them.
type Options struct {
	// Builtin includes gjallar's own policies.
	Builtin bool
	// Paths are .rego files or directories searched recursively for them
	// (hidden directories skipped). Files ending _test.rego hold unit tests
	// and are left out unless Tests is set.
	Paths []string
	// Namespaces are the packages of Paths whose rules run, as conftest's
	// --namespace; empty means main. The built-in policies always run.
	Namespaces []string
	// AllNamespaces runs the rules of every package in Paths.
	AllNamespaces bool
	// RegoV0 parses Paths as Rego v0 (rules without if/contains), as
	// conftest's --rego-version v0; files with `import rego.v1` still parse.
	RegoV0 bool
	// Config supplies the options of the built-in policies, from the rules
	// section of .gjallar.yaml.
	Config *rules.Config
	// Tests also compiles *_test.rego files; `gjallar policy check` uses it.
	Tests bool
	// Timeout bounds the evaluation of one object (0: none), so a runaway
	// policy cannot hold an admission request past its deadline. An object
	// whose evaluation is cut off gets one policy-error finding naming
	// where it stopped, and no other policy findings.
	Timeout time.Duration
	// NoNetwork leaves out the built-in functions that reach outside the
	// process (http.send, DNS lookups) or read its environment
	// (opa.runtime); a policy using one does not compile. The webhook sets
	// it: a policy must not turn the webhook pod into a client of the
	// cloud metadata endpoint.
	NoNetwork bool
}

// networkBuiltins are what NoNetwork removes.
var networkBuiltins = map[string]bool{"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true}

func withoutNetwork(c *ast.Capabilities) *ast.Capabilities {
	kept := c.Builtins[:0:0]
	for _, b := range c.Builtins {
		if !networkBuiltins[b.Name] {
			kept = append(kept, b)
		}
	}
	c.Builtins = kept
	return c
}

// Set is a compiled, prepared set of policies. It is immutable and safe for
// concurrent use; to pick up changed policy files, Load a new Set and build
// a new engine with it.
type Set struct {
	compiler *ast.Compiler
	store    storage.Store
	packages []*pkgQueries
	// all evaluates every rule of every package in one query: one
	// evaluation per object instead of one per rule. When it fails, the
	// rules are evaluated one by one to isolate the failing one.
	all     rego.PreparedEvalQuery
	rules   []*rules.Rule
	files   int
	timeout time.Duration
	// kinds, when not nil, are the only kinds any selected package can
	// report on (builtinKinds); other objects are not evaluated.
	kinds map[schema.GroupKind]bool
}

// pkgQueries are the prepared queries of one package.
type pkgQueries struct {
	path string // e.g. "main", "gjallar.builtin.endpoint_hostname"
	// exception is data.<pkg>.exception, or nil when the package has none.
	exception *query
	checks    []*query
}

// query is one deny, violation, warn or exception rule of a package.
type query struct {
	builtin  bool   // one of gjallar's own policies
	ref      string // data.main.deny_x
	name     string // deny_x
	failure  bool   // deny or violation, not warn
	id       string // the ID of findings whose result names no rule
	severity rules.Severity
	where    string // file:line of the rule's first definition
	bind     string // its variable in the combined query
	pq       rego.PreparedEvalQuery
}

var (
	failureName = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
	warningName = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
)

// Load parses, compiles and prepares the policies. Problems with the policy
// files (syntax, types, unknown packages) come back as a *CompileError whose
// lines each start with file:line.
func Load(opts Options) (*Set, error) {
	src, err := readSources(opts)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if opts.NoNetwork {
		compiler = compiler.WithCapabilities(withoutNetwork(ast.CapabilitiesForThisVersion()))
	}
	if compiler.Compile(src.modules); compiler.Failed() {
		return nil, compileError(compiler.Errors)
	}
	store, err := optionsStore(opts.Config)
	if err != nil {
		return nil, err
	}
	s := &Set{compiler: compiler, store: store, files: src.userFiles, timeout: opts.Timeout}
	selected, err := selectPackages(src, opts)
	if err != nil {
		return nil, err
	}
	meta, err := collectMetadata(src)
	if err != nil {
		return nil, err
	}
	s.kinds = evaluatedKinds(selected)
	ctx := context.Background()
	for _, pkg := range selected {
		pq, err := s.preparePackage(ctx, src, pkg, meta)
		if err != nil {
			return nil, err
		}
		s.packages = append(s.packages, pq)
	}
	if s.all, err = s.prepareAll(ctx); err != nil {
		return nil, err
	}
	if s.rules, err = s.listRules(src, meta); err != nil {
		return nil, err
	}
	return s, nil
}

// Rules lists every rule ID the set may report, for config validation,
// `gjallar rules` and SARIF: the built-in policies, policy-error, and for
// users' policies each rule's default ID plus every ID written as a literal
// "rule" field in a result object.
func (s *Set) Rules() []*rules.Rule { return s.rules }

// Files is how many of the users' policy files were compiled.
func (s *Set) Files() int { return s.files }

// Kinds returns the only kinds the selected packages can report on, sorted,
// or nil when a user's package runs, which may look at any kind: what the
// audit must list for the policies to see their objects.
func (s *Set) Kinds() []schema.GroupKind {
	if s.kinds == nil {
		return nil
	}
	out := make([]schema.GroupKind, 0, len(s.kinds))
	for gk := range s.kinds {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Start begins a run over idx; data.inventory is built from idx the first
// time a policy reads it, once per run.
func (s *Set) Start(idx rules.Index) rules.ExtensionRun {
	return &run{set: s, idx: idx}
}

func (s *Set) preparePackage(ctx context.Context, src *sources, pkg string, meta map[string]*ruleMeta) (*pkgQueries, error) {
	out := &pkgQueries{path: pkg}
	for _, name := range src.ruleNames[pkg] {
		ref := src.ruleRef(pkg, name)
		if name == "exception" {
			pq, err := s.prepare(ctx, ref)
			if err != nil {
				return nil, err
			}
			out.exception = &query{ref: ref, name: name, where: src.ruleWhere[ref], pq: pq}
			continue
		}
		failure := failureName.MatchString(name)
		if !failure && !warningName.MatchString(name) {
			continue
		}
		pq, err := s.prepare(ctx, ref)
		if err != nil {
			return nil, err
		}
		q := &query{ref: ref, name: name, failure: failure, id: pkg + "." + name, severity: rules.Warning, where: src.ruleWhere[ref], pq: pq, builtin: src.builtin[pkg]}
		if failure {
			q.severity = rules.Error
		}
		if m := meta[ref]; m != nil {
			if m.id != "" {
				q.id = m.id
			}
			if m.severity != 0 {
				q.severity = m.severity
			}
		}
		out.checks = append(out.checks, q)
	}
	return out, nil
}

func (s *Set) prepare(ctx context.Context, query string) (rego.PreparedEvalQuery, error) {
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(s.compiler),
		rego.Store(s.store),
	).PrepareForEval(ctx)
	if err != nil {
		return pq, fmt.Errorf("preparing %s: %w", query, err)
	}
	return pq, nil
}

// prepareAll prepares the combined query. Each rule's value is wrapped in
// an array comprehension, which is always defined, so a rule that is
// undefined for an object (a conditional `deny := true`) leaves the others'
// results alone.
func (s *Set) prepareAll(ctx context.Context) (rego.PreparedEvalQuery, error) {
	var parts []string
	add := func(q *query) {
		q.bind = fmt.Sprintf("r%d", len(parts))
		parts = append(parts, fmt.Sprintf("%s := [x | x := %s]", q.bind, q.ref))
	}
	for _, pkg := range s.packages {
		if pkg.exception != nil {
			add(pkg.exception)
		}
		for _, q := range pkg.checks {
			add(q)
		}
	}
	if len(parts) == 0 {
		parts = []string{"true"}
	}
	return s.prepare(ctx, strings.Join(parts, "; "))
}

// listRules builds the rule descriptions: built-in policies first, then
// policy-error, then users' rules by ID. A user's ID may not take the ID of
// a built-in rule or policy, whose config would then apply to both.
func (s *Set) listRules(src *sources, meta map[string]*ruleMeta) ([]*rules.Rule, error) {
	var builtin, user []*rules.Rule
	where := map[string]string{}
	seen := map[string]bool{}
	for _, pkg := range s.packages {
		for _, q := range pkg.checks {
			r := &rules.Rule{ID: q.id, Severity: q.severity, Summary: "Rego rule " + q.ref + " (" + q.where + ")"}
			if m := meta[q.ref]; m != nil {
				if m.title != "" {
					r.Summary = m.title
				}
				r.Rationale = m.description
			}
			if src.builtin[pkg.path] {
				if !seen[r.ID] {
					seen[r.ID] = true
					r.Options = builtinOptions[r.ID]
					builtin = append(builtin, r)
				}
				continue
			}
			ids := []*rules.Rule{r}
			where[r.ID] = q.where
			for _, lit := range src.literalIDs[q.ref] {
				sev := q.severity
				if lit.severity != 0 {
					sev = lit.severity
				}
				ids = append(ids, &rules.Rule{ID: lit.id, Severity: sev, Summary: "Rego rule " + q.ref + " (" + lit.where + ")"})
				if _, ok := where[lit.id]; !ok {
					where[lit.id] = lit.where
				}
			}
			for _, r := range ids {
				if reservedID(r.ID) {
					return nil, &CompileError{[]string{fmt.Sprintf("%s: rule ID %q is a built-in rule's; choose another", where[r.ID], r.ID)}}
				}
				if !seen[r.ID] {
					seen[r.ID] = true
					user = append(user, r)
				}
			}
		}
	}
	sort.SliceStable(user, func(i, j int) bool { return user[i].ID < user[j].ID })
	out := append(builtin, policyErrorRule)
	return append(out, user...), nil
}

// CompileError lists what is wrong with the policy files, one problem a
// line, each starting with file:line.
type CompileError struct {
	Problems []string
}

func (e *CompileError) Error() string {
	return strings.Join(e.Problems, "\n")
}

func compileError(errs ast.Errors) *CompileError {
	ce := &CompileError{}
	for _, e := range errs {
		ce.Problems = append(ce.Problems, e.Error())
	}
	sort.Strings(ce.Problems)
	return ce
}
