package rules

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Rule is one check with everything a user sees about it. Rules look at one
// object at a time and may read others through the Index; they never read
// files, flags or the network.
type Rule struct {
	ID      string
	Summary string
	// Rationale says why the rule matters for this stack and how to fix what
	// it finds; it is the help text in SARIF and `gjallar rules`.
	Rationale string
	Severity  Severity
	Fixable   bool
	// Kinds the rule looks at; the engine calls Check only for these.
	Kinds []schema.GroupKind
	// Options returns a pointer to the rule's options holding their defaults;
	// nil for a rule without options. The config file's options are decoded
	// into it as JSON, unknown fields rejected.
	Options func() any
	Check   func(c *Context, obj *Object)
	// Warm, if set, does the once-per-process setup the rule's first Check
	// would otherwise pay for (compiling a schema), so that a caller can
	// do it ahead, alongside other work.
	Warm func()
}

// Finding is one problem found in one object.
type Finding struct {
	Rule     string
	Severity Severity
	Message  string
	Object   ObjectRef
	// Path is the field inside the object the finding is about.
	Path Path
	// Doc is set when the finding is inside a JSON document the object
	// holds (an embedded config.json, a standalone JSON file); DocPath is
	// then the path inside it.
	Doc     *JSONDoc
	DocPath Path
	Fix     *Fix
}

// FieldPath renders where the finding is: the object field, and inside a
// JSON document the path within it, as data["config.json"]:plugins[0].
func (f Finding) FieldPath() string {
	if f.Doc == nil || len(f.DocPath) == 0 {
		return f.Path.String()
	}
	if len(f.Path) == 0 {
		return f.DocPath.String()
	}
	return f.Path.String() + ":" + f.DocPath.String()
}

// Fix is a change that resolves a finding: each edit sets the field at Path
// to Value, creating missing parents. `lint --fix` applies it to the file and
// the mutating webhook turns it into a JSON patch.
type Fix struct {
	Description string
	Edits       []Edit
}

// Edit sets one field. For a standalone JSON file the path is empty and
// Value is the file's new text.
type Edit struct {
	Path  Path
	Value any
}

// Context is what a rule's Check gets: the index, its options, and the way
// to report.
type Context struct {
	Index   Index
	Options any

	run      *Run
	rule     *boundRule
	obj      *Object
	findings []Finding
	// reads is set under Run.CheckJudged: it is also Index.
	reads *readTracker
}

// Report records a finding about the current object. Rule, object and (if
// unset) severity are filled in.
func (c *Context) Report(f Finding) {
	f.Rule = c.rule.ID
	f.Object = c.obj.ref
	if f.Severity == 0 {
		f.Severity = c.rule.Rule.Severity
	}
	if c.rule.severity != 0 {
		f.Severity = c.rule.severity
	}
	c.findings = append(c.findings, f)
}

// Reportf reports a finding at path with a formatted message.
func (c *Context) Reportf(path Path, format string, args ...any) {
	c.Report(Finding{Path: path, Message: fmt.Sprintf(format, args...)})
}

// ReportIn reports a finding at path at inside a JSON document the object
// holds.
func (c *Context) ReportIn(doc *JSONDoc, at Path, f Finding) {
	f.Path = doc.Path
	f.Doc = doc
	f.DocPath = at
	c.Report(f)
}

// Shared computes a value once per run (one lint invocation, one admission
// request) and hands it to every rule and object that asks with the same
// key; rules use it for facts derived from the whole index.
func (c *Context) Shared(key string, compute func() any) any {
	if c.run == nil {
		return compute() // a bare Context, as tests build: nothing to share with
	}
	return c.run.shared(key, compute, c.reads)
}

// SharedOver is Shared for a fact computed only from the index's objects
// of the given kinds. When the index can tell that none of them changed
// since the fact was computed (the webhook's cluster cache, from one
// admission request to the next), the engine keeps the fact across runs
// instead of reading every such object again per request; otherwise it is
// computed once per run, as with Shared. compute must read nothing but
// objects of those kinds, and the value must not be modified.
func (c *Context) SharedOver(key string, kinds []schema.GroupKind, compute func() any) any {
	if c.run == nil {
		return compute()
	}
	return c.run.sharedOver(key, kinds, compute, c.reads)
}

// SharedOverBase is SharedOver for a fact computed from the index without
// the object under review (UnderReview): the webhook's cluster cache as it
// was before the request, which can still hold an older version of that
// object. compute receives that index, and the rule accounts for the object
// under review itself. The fact is then kept across admission requests even
// while objects of its kinds are under review, where SharedOver would read
// them all again per request. In lint it is SharedOver.
func (c *Context) SharedOverBase(key string, kinds []schema.GroupKind, compute func(Index) any) any {
	base := c.Index
	if ov, ok := base.(overlay); ok {
		base = ov.base
	}
	if c.run == nil {
		return compute(base)
	}
	c.reads.noteAll(kinds)
	return c.run.sharedOn(base, "base:"+key, kinds, func() any {
		return c.run.shared("base:"+key, func() any { return compute(base) }, c.reads)
	})
}

// UnderReview is the object the index shows in place of the version it
// stores (rules.Overlay: the webhook's object under review), or nil.
func (c *Context) UnderReview() *Object {
	if ov, ok := c.Index.(overlay); ok {
		return ov.obj
	}
	return nil
}

// Extension contributes findings from outside the built-in Go rules: Rego
// policies. Its findings pass through the same config, suppression and
// severity handling as rule findings, in lint and in the webhook alike.
type Extension interface {
	// Rules describes every rule ID the extension may report, for config
	// validation, `gjallar rules` and SARIF; their Check is nil.
	Rules() []*Rule
	// Start is called once per run, before the first object is checked.
	Start(idx Index) ExtensionRun
}

// ExtensionRun checks objects within one run.
type ExtensionRun interface {
	Check(obj *Object) []Finding
}

// Engine runs the enabled rules with their configured severity and options.
type Engine struct {
	byID   map[string]*boundRule
	byKind map[schema.GroupKind][]*boundRule
	all    []*boundRule
	exts   []Extension

	// facts keeps SharedOver values across runs over a Versioned index:
	// factKey -> *fact.
	facts sync.Map
}

type factKey struct {
	scope any
	key   string
}

// fact is a SharedOver value at one version of its kinds; runs that need it
// at that version meanwhile wait for the one computing it, rather than each
// reading every object of those kinds again.
type fact struct {
	version uint64
	once    sync.Once
	v       any
}

type boundRule struct {
	*Rule
	severity Severity // configured override, or 0
	options  any
	disabled bool
}

// NewEngine binds rules (and extensions' rules) to a config. A config that
// names an unknown rule or gives a rule options it does not have is an
// error.
func NewEngine(rules []*Rule, cfg *Config, exts ...Extension) (*Engine, error) {
	e := &Engine{byID: map[string]*boundRule{}, byKind: map[schema.GroupKind][]*boundRule{}, exts: exts}
	for _, x := range exts {
		rules = append(append([]*Rule(nil), rules...), x.Rules()...)
	}
	for _, r := range rules {
		if _, dup := e.byID[r.ID]; dup {
			return nil, fmt.Errorf("rule %q is defined twice", r.ID)
		}
		b := &boundRule{Rule: r}
		if r.Options != nil {
			b.options = r.Options()
		}
		e.byID[r.ID] = b
		e.all = append(e.all, b)
	}
	if cfg != nil {
		if err := cfg.apply(e); err != nil {
			return nil, err
		}
	}
	for _, b := range e.all {
		if b.disabled || b.Check == nil {
			continue
		}
		for _, gk := range b.Kinds {
			e.byKind[gk] = append(e.byKind[gk], b)
		}
	}
	return e, nil
}

// Rules returns the rules the engine knows, enabled or not, by ID.
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, 0, len(e.all))
	for _, b := range e.all {
		out = append(out, b.Rule)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Known reports whether a rule ID is one the engine describes (built-in,
// or declared by an extension); a Rego result can carry other IDs.
func (e *Engine) Known(id string) bool {
	_, ok := e.byID[id]
	return ok
}

// Warm does the once-per-process setup of the enabled rules (Rule.Warm):
// lint runs it while it reads the files, the webhook before it serves.
func (e *Engine) Warm() {
	for _, b := range e.all {
		if !b.disabled && b.Warm != nil {
			b.Warm()
		}
	}
}

// Enabled reports whether a rule is known and not disabled by the config.
func (e *Engine) Enabled(id string) bool {
	b, ok := e.byID[id]
	return ok && !b.disabled
}

// Emit passes a finding made outside a rule (a parse error, a policy
// result) through the same config and suppression as rule findings. It
// returns false when the finding is dropped.
func (e *Engine) Emit(f Finding, obj *Object) (Finding, bool) {
	b, ok := e.byID[f.Rule]
	if ok && b.disabled {
		return f, false
	}
	if obj != nil && obj.Suppressed(f.Rule) {
		return f, false
	}
	if ok && b.severity != 0 {
		f.Severity = b.severity
	}
	if f.Severity == 0 && ok {
		f.Severity = b.Rule.Severity
	}
	return f, true
}

// Run is one evaluation over one index: a lint invocation or an admission
// request. It is safe to Check objects from several goroutines.
type Run struct {
	engine *Engine
	index  Index

	extOnce sync.Once
	extRuns []ExtensionRun

	mu    sync.Mutex
	cache map[string]*sharedValue
}

type sharedValue struct {
	once sync.Once
	v    any
	// unread are the unserved kinds computing v read (Run.CheckJudged).
	unread []schema.GroupKind
}

// NewRun starts a run over idx.
func (e *Engine) NewRun(idx Index) *Run {
	return &Run{engine: e, index: idx, cache: map[string]*sharedValue{}}
}

// shared computes a value once per run; reads, when tracking, is charged
// with the unserved kinds computing it read, whoever computed it.
func (r *Run) shared(key string, compute func() any, reads *readTracker) any {
	r.mu.Lock()
	s, ok := r.cache[key]
	if !ok {
		s = &sharedValue{}
		r.cache[key] = s
	}
	r.mu.Unlock()
	s.once.Do(func() {
		if reads == nil {
			s.v = compute()
			return
		}
		s.v, s.unread = reads.during(compute)
	})
	if reads != nil {
		reads.add(s.unread)
	}
	return s.v
}

func (r *Run) sharedOver(key string, kinds []schema.GroupKind, compute func() any, reads *readTracker) any {
	reads.noteAll(kinds)
	return r.sharedOn(r.index, key, kinds, func() any { return r.shared(key, compute, reads) })
}

// sharedOn keeps compute's value across runs while idx's objects of kinds
// are unchanged, or computes it once per run when idx cannot tell.
func (r *Run) sharedOn(idx Index, key string, kinds []schema.GroupKind, compute func() any) any {
	vi, ok := idx.(Versioned)
	if !ok {
		return compute()
	}
	scope, version, ok := vi.Version(kinds)
	if !ok {
		return compute()
	}
	// The version is read before computing: a change made meanwhile leaves
	// the fact stored under the older version, so a later run computes it
	// again.
	fk := factKey{scope, key}
	f := &fact{version: version}
	for {
		cur, loaded := r.engine.facts.LoadOrStore(fk, f)
		if !loaded {
			break
		}
		old := cur.(*fact)
		if old.version == version {
			f = old
			break
		}
		if old.version > version {
			return compute() // this run read an older version: do not store it
		}
		if r.engine.facts.CompareAndSwap(fk, cur, f) {
			break
		}
	}
	f.once.Do(func() {
		defer func() {
			if p := recover(); p != nil {
				r.engine.facts.CompareAndDelete(fk, f) // not kept: the next run tries again
				panic(p)
			}
		}()
		f.v = compute()
	})
	return f.v
}

// Check runs every enabled rule that looks at obj's kind and returns the
// findings that are not suppressed, in rule order.
func (r *Run) Check(obj *Object) []Finding {
	out, _ := r.check(obj, false)
	return out
}

func (r *Run) check(obj *Object, track bool) ([]Finding, []Unjudged) {
	var out []Finding
	var unjudged []Unjudged
	for _, b := range r.engine.byKind[obj.gk] {
		if obj.Suppressed(b.ID) {
			continue
		}
		found, unread := r.checkOne(b, obj, track)
		out = append(out, found...)
		if len(unread) > 0 {
			unjudged = append(unjudged, Unjudged{Rule: b.ID, Kinds: unread})
		}
	}
	r.extOnce.Do(func() {
		for _, x := range r.engine.exts {
			r.extRuns = append(r.extRuns, x.Start(r.index))
		}
	})
	for _, x := range r.extRuns {
		for _, f := range x.Check(obj) {
			if f.Object == (ObjectRef{}) {
				f.Object = obj.ref
			}
			if f, ok := r.engine.Emit(f, obj); ok {
				out = append(out, f)
			}
		}
	}
	return out, unjudged
}

// checkOne isolates a rule: a panic in one rule becomes an error finding
// of that rule instead of taking down the linter or the webhook.
func (r *Run) checkOne(b *boundRule, obj *Object, track bool) (findings []Finding, unread []schema.GroupKind) {
	c := &Context{Index: r.index, Options: b.options, run: r, rule: b, obj: obj}
	if track {
		c.reads = newReadTracker(r.index)
		c.Index = c.reads
	}
	defer func() {
		if p := recover(); p != nil {
			// Only a runtime error's text is shown: it names a Go failure,
			// never object data, while a panic value could carry anything.
			why := "please report it"
			if re, ok := p.(runtime.Error); ok {
				why = re.Error()
			}
			// Fail closed, like a policy error: the rule did not decide, so
			// what it guards against may be present.
			sev := Error
			if b.severity != 0 {
				sev = b.severity
			}
			findings = []Finding{{
				Rule: b.ID, Severity: sev, Object: obj.ref,
				Message: fmt.Sprintf("internal error in rule %s, object not checked (%s)", b.ID, why),
			}}
		}
	}()
	b.Check(c, obj)
	if c.reads != nil {
		unread = sortedKinds(c.reads.unread)
	}
	return c.findings, unread
}
