package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/resolver"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// inventoryRef is where policies find the other objects of the run.
var inventoryRef = ast.MustParseRef("data.inventory")

// run evaluates the set's policies over the objects of one run. Check may
// be called from several goroutines.
type run struct {
	set *Set
	idx rules.Index

	invOnce sync.Once
	inv     ast.Value
	values  sync.Map // *rules.Object -> ast.Value, converted once per run
}

// Check evaluates every selected rule against obj. A rule that fails to
// evaluate yields a policy-error finding and does not stop the others.
func (r *run) Check(obj *rules.Object) []rules.Finding {
	if r.set.kinds != nil && !r.set.kinds[obj.GroupKind()] {
		return nil
	}
	input := r.input(obj)
	if input == nil || len(r.set.packages) == 0 {
		return nil
	}
	ctx := context.Background()
	if r.set.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.set.timeout)
		defer cancel()
	}
	opts := []rego.EvalOption{
		rego.EvalParsedInput(input),
		rego.EvalResolver(inventoryRef, r),
		rego.EvalSortSets(true),
	}
	rs, err := r.set.all.Eval(ctx, opts...)
	if err != nil && ctx.Err() != nil {
		// Out of time: evaluating rule by rule would only fail again, and
		// which rules got through would depend on timing.
		text, _, _ := strings.Cut(err.Error(), "\n")
		return []rules.Finding{{
			Rule:     PolicyError,
			Severity: rules.Error,
			Message:  fmt.Sprintf("the Rego policies did not finish on this object within %s, so it went unchecked: %s", r.set.timeout, text),
		}}
	}
	if err != nil {
		// Evaluate rule by rule to find the failing one.
		return r.collect(obj, func(q *query) (any, error) {
			rs, err := q.pq.Eval(ctx, opts...)
			if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
				return nil, err
			}
			return rs[0].Expressions[0].Value, nil
		})
	}
	var bindings rego.Vars
	if len(rs) == 1 {
		bindings = rs[0].Bindings
	}
	return r.collect(obj, func(q *query) (any, error) {
		if wrapped, _ := bindings[q.bind].([]any); len(wrapped) == 1 {
			return wrapped[0], nil
		}
		return nil, nil
	})
}

// collect turns each rule's value, as value gives it, into findings.
func (r *run) collect(obj *rules.Object, value func(*query) (any, error)) []rules.Finding {
	var out []rules.Finding
	for _, pkg := range r.set.packages {
		var excepted map[string]bool
		if pkg.exception != nil {
			v, err := value(pkg.exception)
			if err != nil {
				out = append(out, errorFinding(pkg.exception.ref, pkg.exception.where, err))
				continue
			}
			excepted = exceptions(v)
		}
		for _, q := range pkg.checks {
			if q.failure && excepted[suffix(q.name)] {
				continue
			}
			v, err := value(q)
			if err != nil {
				out = append(out, errorFinding(q.ref, q.where, err))
				continue
			}
			out = append(out, q.findings(v, obj)...)
		}
	}
	return out
}

// Eval serves data.inventory, building it on first use in the run.
func (r *run) Eval(context.Context, resolver.Input) (resolver.Result, error) {
	r.invOnce.Do(func() { r.inv = r.inventory() })
	return resolver.Result{Value: r.inv}, nil
}

// inventory arranges the index the way Gatekeeper's policies read it:
// namespace[ns][apiVersion][kind][name] for namespaced objects and
// cluster[apiVersion][kind][name] for the others.
func (r *run) inventory() ast.Value {
	root := ast.NewObject()
	for _, gk := range r.idx.Kinds() {
		for _, obj := range r.idx.List(gk, "") {
			v := r.value(obj)
			if v == nil {
				continue
			}
			ref := obj.Ref()
			path := []string{"cluster", ref.APIVersion, ref.Kind}
			if ref.Namespace != "" {
				path = []string{"namespace", ref.Namespace, ref.APIVersion, ref.Kind}
			}
			child(root, path).Insert(ast.StringTerm(ref.Name), ast.NewTerm(v))
		}
	}
	return root
}

// child returns the object at path below obj, creating missing levels.
func child(obj ast.Object, path []string) ast.Object {
	for _, key := range path {
		k := ast.StringTerm(key)
		if t := obj.Get(k); t != nil {
			obj = t.Value.(ast.Object)
			continue
		}
		next := ast.NewObject()
		obj.Insert(k, ast.NewTerm(next))
		obj = next
	}
	return obj
}

// input is the object as policies see it. Unless data.inventory already
// converted it, it is converted lazily, as policies read fields: most rules
// look at kind and apiVersion and stop there. The lazy value is not safe to
// share, so each Check gets its own.
func (r *run) input(obj *rules.Object) ast.Value {
	if v, ok := r.values.Load(obj); ok {
		return v.(ast.Value)
	}
	doc := document(obj)
	if doc == nil {
		return nil
	}
	return ast.LazyObject(doc)
}

// value is the object converted in full, once per run, for data.inventory.
func (r *run) value(obj *rules.Object) ast.Value {
	if v, ok := r.values.Load(obj); ok {
		return v.(ast.Value)
	}
	doc := document(obj)
	if doc == nil {
		return nil
	}
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil
	}
	r.values.Store(obj, v)
	return v
}

// document is the object's content, or for a standalone Bifrost config
// file the decoded config, as conftest would pass that file; nil when there
// is nothing to evaluate (a config that is not a valid JSON object).
func document(obj *rules.Object) map[string]any {
	if k := obj.File(); k != nil && k.JSON {
		if docs := obj.JSONDocs(); len(docs) == 1 {
			return docs[0].Root()
		}
		return nil
	}
	return obj.Content
}

// exceptions reads a package's exception rule: a set of lists of rule
// suffixes; "" exempts plain deny and violation.
func exceptions(v any) map[string]bool {
	out := map[string]bool{}
	for _, item := range items(v) {
		list, _ := item.([]any)
		for _, name := range list {
			if s, ok := name.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// suffix is what exceptions name a rule by: run_as_root for
// deny_run_as_root, "" for deny.
func suffix(name string) string {
	for _, prefix := range []string{"deny", "violation"} {
		if len(name) > len(prefix) && name[:len(prefix)+1] == prefix+"_" {
			return name[len(prefix)+1:]
		}
	}
	return ""
}

// items are the elements of a rule's value when it is a set or an array;
// any other value (a boolean deny, an object) reports nothing, as in
// conftest.
func items(v any) []any {
	list, _ := v.([]any)
	return list
}

var (
	reservedOnce sync.Once
	reserved     map[string]bool
)

// reservedID reports whether id belongs to a built-in rule or policy.
func reservedID(id string) bool {
	reservedOnce.Do(func() {
		reserved = map[string]bool{PolicyError: true}
		for _, r := range builtin.Rules() {
			reserved[r.ID] = true
		}
		for _, b := range builtinIDs {
			reserved[b] = true
		}
	})
	return reserved[id]
}

// findings turns a rule's results into findings about obj.
func (q *query) findings(v any, obj *rules.Object) []rules.Finding {
	var out []rules.Finding
	for _, item := range items(v) {
		f := rules.Finding{Rule: q.id, Severity: q.severity}
		switch v := item.(type) {
		case string:
			f.Message = v
		case map[string]any:
			msg, ok := v["msg"].(string)
			if !ok {
				out = append(out, errorFinding(q.ref, q.where, fmt.Errorf("a result object needs a string msg; this one has keys %s", keysOf(v))))
				continue
			}
			f.Message = msg
			if id, ok := v["rule"].(string); ok && id != "" && (q.builtin || !reservedID(id)) {
				// A user's policy may not report under a built-in rule's ID
				// (its config and suppressions would then apply), even with
				// an ID computed at run time.
				f.Rule = id
			}
			if s, ok := v["severity"].(string); ok {
				sev, err := rules.ParseSeverity(s)
				if err != nil {
					out = append(out, errorFinding(q.ref, q.where, fmt.Errorf("result severity: %w", err)))
				} else {
					f.Severity = sev
				}
			}
			if p, ok := v["path"]; ok {
				path, err := parsePath(p)
				if err != nil {
					out = append(out, errorFinding(q.ref, q.where, fmt.Errorf("result path: %w", err)))
				}
				place(&f, obj, path)
			}
		default:
			out = append(out, errorFinding(q.ref, q.where, fmt.Errorf("a result must be a string or an object with a string msg, not %T", item)))
			continue
		}
		if f.Message == "" {
			continue // conftest counts an empty message as a pass
		}
		out = append(out, f)
	}
	return out
}

// place sets where a finding points. A path that runs into an embedded
// Bifrost config (data, "config.json", then keys inside the JSON) is split
// so lint can point at the JSON key's own line; for a standalone config file
// the whole path is inside the config.
func place(f *rules.Finding, obj *rules.Object, path rules.Path) {
	if k := obj.File(); k != nil && k.JSON {
		if docs := obj.JSONDocs(); len(docs) == 1 {
			f.Doc, f.DocPath = docs[0], path
		}
		return
	}
	f.Path = path
	for _, doc := range obj.JSONDocs() {
		if len(path) > len(doc.Path) && path.HasPrefix(doc.Path) {
			f.Path, f.Doc, f.DocPath = doc.Path, doc, path[len(doc.Path):]
			return
		}
	}
}

func keysOf(m map[string]any) string {
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) == 0 {
		return "none"
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// errorFinding reports a policy that failed on the current object. Only
// the error's first line is kept: OPA lists the conflicting values on the
// lines after it, and those may be the very secrets a policy guards.
func errorFinding(ref, where string, err error) rules.Finding {
	text, _, _ := strings.Cut(err.Error(), "\n")
	at := ref
	if where != "" {
		at += " (" + where + ")"
	}
	return rules.Finding{
		Rule:     PolicyError,
		Severity: rules.Error,
		Message:  fmt.Sprintf("policy %s could not check this object, so it went unchecked: %s", at, text),
	}
}

// parsePath accepts a path as a list of keys and indexes, or as a string in
// the form findings print: spec.listeners[0].hostname, data["config.json"].
func parsePath(p any) (rules.Path, error) {
	switch v := p.(type) {
	case string:
		return parsePathString(v)
	case []any:
		out := make(rules.Path, 0, len(v))
		for _, e := range v {
			switch t := e.(type) {
			case string:
				out = append(out, t)
			case json.Number:
				if _, err := strconv.Atoi(string(t)); err != nil {
					return nil, fmt.Errorf("index %s is not a whole number", t)
				}
				out = append(out, string(t))
			default:
				return nil, fmt.Errorf("element %v is not a key or an index", e)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of keys, got %T", p)
}

func parsePathString(s string) (rules.Path, error) {
	var out rules.Path
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '.' || c == ':':
			i++
		case c == '[':
			if i+1 < len(s) && s[i+1] == '"' {
				q, err := strconv.QuotedPrefix(s[i+1:])
				if err != nil {
					return nil, fmt.Errorf("%q: unterminated quoted key", s)
				}
				key, _ := strconv.Unquote(q)
				i += 1 + len(q)
				if i >= len(s) || s[i] != ']' {
					return nil, fmt.Errorf("%q: missing ] after quoted key", s)
				}
				out = append(out, key)
				i++
				continue
			}
			end := i + 1
			for end < len(s) && s[end] != ']' {
				end++
			}
			if end >= len(s) {
				return nil, fmt.Errorf("%q: missing ]", s)
			}
			out = append(out, s[i+1:end])
			i = end + 1
		default:
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' && s[end] != ':' {
				end++
			}
			out = append(out, s[i:end])
			i = end
		}
	}
	return out, nil
}
