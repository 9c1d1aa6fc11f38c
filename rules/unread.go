package rules

import (
	"maps"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Unjudged says that a rule, while checking one object, tried to read
// kinds its index could not show (KindServer says it does not serve them:
// a kind the audit was not allowed to list, or could not): what it
// reported, or did not, rests on objects it never saw.
type Unjudged struct {
	Rule  string
	Kinds []schema.GroupKind
}

// CheckJudged is Check for a door whose index may lack whole kinds (the
// audit, when RBAC forbids listing some): it also says which rules read a
// kind the index does not serve, directly or through a fact shared within
// the run, so the door can tell that they could not judge the object
// rather than trust their silence. A run should be checked either always
// with CheckJudged or always with Check: a shared fact first computed
// untracked carries no record of what it read.
func (r *Run) CheckJudged(obj *Object) ([]Finding, []Unjudged) {
	return r.check(obj, true)
}

// readTracker is the Index a rule sees under CheckJudged: it passes every
// read to the run's index and notes the kinds that index does not serve.
type readTracker struct {
	base   Index
	unread map[schema.GroupKind]bool
}

func newReadTracker(base Index) *readTracker {
	return &readTracker{base: base, unread: map[schema.GroupKind]bool{}}
}

func (t *readTracker) note(gk schema.GroupKind) {
	if !KindKnown(t.base, gk) {
		t.unread[gk] = true
	}
}

// noteAll notes the kinds a shared fact is made of, whether it is computed
// now or kept from an earlier run; a nil tracker (not tracking) notes none.
func (t *readTracker) noteAll(kinds []schema.GroupKind) {
	if t == nil {
		return
	}
	for _, gk := range kinds {
		t.note(gk)
	}
}

func (t *readTracker) Get(gk schema.GroupKind, namespace, name string) *Object {
	t.note(gk)
	return t.base.Get(gk, namespace, name)
}

func (t *readTracker) List(gk schema.GroupKind, namespace string) []*Object {
	t.note(gk)
	return t.base.List(gk, namespace)
}

func (t *readTracker) Walk(gk schema.GroupKind, namespace string, fn func(*Object)) {
	t.note(gk)
	Each(t.base, gk, namespace, fn)
}

func (t *readTracker) Kinds() []schema.GroupKind { return t.base.Kinds() }

// HasNamespace, Serves and Version keep the base's answers, so a rule sees
// the same index it would without tracking.
func (t *readTracker) HasNamespace(ns string) bool     { return NamespaceKnown(t.base, ns) }
func (t *readTracker) Serves(gk schema.GroupKind) bool { return KindKnown(t.base, gk) }
func (t *readTracker) Version(kinds []schema.GroupKind) (any, uint64, bool) {
	if vi, ok := t.base.(Versioned); ok {
		return vi.Version(kinds)
	}
	return nil, 0, false
}

// during runs compute and returns, besides its value, the unserved kinds
// it read, which are also noted against the rule computing it. A shared
// fact keeps them so that every later rule taking the fact is noted too.
func (t *readTracker) during(compute func() any) (any, []schema.GroupKind) {
	outer := t.unread
	t.unread = map[schema.GroupKind]bool{}
	v := compute()
	read := t.unread
	t.unread = outer
	maps.Copy(outer, read)
	return v, sortedKinds(read)
}

// add notes kinds read on the rule's behalf (by a shared fact).
func (t *readTracker) add(kinds []schema.GroupKind) {
	for _, gk := range kinds {
		t.unread[gk] = true
	}
}

func sortedKinds(set map[schema.GroupKind]bool) []schema.GroupKind {
	if len(set) == 0 {
		return nil
	}
	out := make([]schema.GroupKind, 0, len(set))
	for gk := range set {
		out = append(out, gk)
	}
	sortKinds(out)
	return out
}
