package rules

import (
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Index gives a rule read-only access to the other objects: everything
// linted together in `gjallar lint`, the cluster's cache in the webhook.
type Index interface {
	// Get returns the object, or nil.
	Get(gk schema.GroupKind, namespace, name string) *Object
	// List returns the objects of a kind in a namespace; "" lists all
	// namespaces. The result must not be modified.
	List(gk schema.GroupKind, namespace string) []*Object
	// Kinds lists the kinds the index holds, for consumers that need the
	// whole inventory (Rego policies' data.inventory).
	Kinds() []schema.GroupKind
}

// MemIndex is an Index over objects held in memory.
type MemIndex struct {
	// Complete declares the objects to be everything that exists, as for
	// a dump of a whole cluster: every namespace is then known, and an
	// object missing from it is really missing.
	Complete bool

	byKey  map[objectKey]*Object
	byKind map[schema.GroupKind][]*Object
	byNS   map[kindNS][]*Object
	nss    map[string]bool
}

type objectKey struct {
	gk              schema.GroupKind
	namespace, name string
}

type kindNS struct {
	gk        schema.GroupKind
	namespace string
}

// NewMemIndex indexes objects; a later object with the same kind, namespace
// and name replaces an earlier one, as a later `kubectl apply` would.
func NewMemIndex(objs []*Object) *MemIndex {
	idx := &MemIndex{
		byKey:  make(map[objectKey]*Object, len(objs)),
		byKind: map[schema.GroupKind][]*Object{},
		byNS:   map[kindNS][]*Object{},
		nss:    map[string]bool{},
	}
	for _, o := range objs {
		idx.Add(o)
	}
	return idx
}

// Add puts o in the index.
func (idx *MemIndex) Add(o *Object) {
	key := objectKey{o.gk, o.ref.Namespace, o.ref.Name}
	if old, ok := idx.byKey[key]; ok {
		idx.byKind[o.gk] = replace(idx.byKind[o.gk], old, o)
		idx.byNS[kindNS{o.gk, o.ref.Namespace}] = replace(idx.byNS[kindNS{o.gk, o.ref.Namespace}], old, o)
		idx.byKey[key] = o
		return
	}
	idx.byKey[key] = o
	idx.nss[o.ref.Namespace] = true
	idx.byKind[o.gk] = append(idx.byKind[o.gk], o)
	idx.byNS[kindNS{o.gk, o.ref.Namespace}] = append(idx.byNS[kindNS{o.gk, o.ref.Namespace}], o)
}

func replace(list []*Object, old, o *Object) []*Object {
	for i := range list {
		if list[i] == old {
			list[i] = o
		}
	}
	return list
}

func (idx *MemIndex) Get(gk schema.GroupKind, namespace, name string) *Object {
	return idx.byKey[objectKey{gk, namespace, name}]
}

func (idx *MemIndex) List(gk schema.GroupKind, namespace string) []*Object {
	if namespace == "" {
		return idx.byKind[gk]
	}
	return idx.byNS[kindNS{gk, namespace}]
}

func (idx *MemIndex) Kinds() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(idx.byKind))
	for gk := range idx.byKind {
		out = append(out, gk)
	}
	sortKinds(out)
	return out
}

func sortKinds(gks []schema.GroupKind) {
	sort.Slice(gks, func(i, j int) bool {
		if gks[i].Group != gks[j].Group {
			return gks[i].Group < gks[j].Group
		}
		return gks[i].Kind < gks[j].Kind
	})
}

// HasNamespace reports whether any object in the index lives in ns; lint
// uses it to tell "absent" from "not in the input".
func (idx *MemIndex) HasNamespace(ns string) bool {
	return idx.Complete || idx.nss[ns]
}

// HoldsKind reports whether the index evidently holds every object of
// kind gk in ns: it holds the Namespace object itself and at least one
// object of the kind there (a tree that defines a namespace and some of its
// Services defines all of them), or it is complete.
func (idx *MemIndex) HoldsKind(gk schema.GroupKind, ns string) bool {
	if idx.Complete {
		return true
	}
	return idx.byKey[objectKey{NamespaceKind, "", ns}] != nil && len(idx.byNS[kindNS{gk, ns}]) > 0
}

// NamespaceKnower is an Index that may hold only part of the world, as lint's
// input does: HasNamespace says whether it holds anything in ns, and
// HoldsKind whether it holds any object of a kind there, so that a rule can
// tell "this object does not exist" from "this was not linted". An Index
// without it (the webhook's cluster cache) is the full truth about every
// namespace.
type NamespaceKnower interface {
	HasNamespace(ns string) bool
	HoldsKind(gk schema.GroupKind, ns string) bool
}

// NamespaceKnown reports whether idx can be trusted to hold every object of
// ns, so that a missing one is really missing.
func NamespaceKnown(idx Index, ns string) bool {
	if k, ok := idx.(NamespaceKnower); ok {
		return k.HasNamespace(ns)
	}
	return true
}

// KindKnownIn reports whether idx can be trusted to hold every object of
// kind gk in ns: it is the whole cluster (or declared complete), or the
// input evidently holds that namespace's objects of the kind, because it
// holds at least one.
func KindKnownIn(idx Index, gk schema.GroupKind, ns string) bool {
	if k, ok := idx.(NamespaceKnower); ok {
		return k.HoldsKind(gk, ns)
	}
	return KindKnown(idx, gk)
}

// KindServer is an Index that can say it does not hold a kind at all (the
// webhook's cache, when a CRD was installed after it started): a rule must
// not conclude from an empty List of such a kind that nothing exists.
type KindServer interface {
	Serves(gk schema.GroupKind) bool
}

// KindKnown reports whether idx holds the kind; an index that cannot tell
// (lint's, whose input is the whole story) is taken to.
func KindKnown(idx Index, gk schema.GroupKind) bool {
	if k, ok := idx.(KindServer); ok {
		return k.Serves(gk)
	}
	return true
}

// Versioned is an Index that can tell when its objects of some kinds last
// changed, so that facts derived from them (Context.SharedOver) can be kept
// across runs: the webhook's cluster cache, which changes far less often
// than admission requests arrive.
type Versioned interface {
	// Version returns a number that changes whenever an object of one of
	// kinds is added, changed or removed, and the scope (a comparable value
	// naming the underlying store) facts computed from it are kept under.
	// ok is false when the index cannot tell.
	Version(kinds []schema.GroupKind) (scope any, version uint64, ok bool)
}

// Walker is an Index that can hand its objects over one at a time: one
// that decodes objects on demand (the webhook's compact cache) then need
// not hold a whole kind decoded at once, as a List would.
type Walker interface {
	// Walk calls fn for every object List would return, in no set order.
	Walk(gk schema.GroupKind, namespace string, fn func(*Object))
}

// Each calls fn for every object of gk in namespace ("" all), one at a
// time where idx is a Walker. A fact computed over a whole kind should
// keep what it needs of each object (names, numbers), not the objects.
func Each(idx Index, gk schema.GroupKind, namespace string, fn func(*Object)) {
	if w, ok := idx.(Walker); ok {
		w.Walk(gk, namespace, fn)
		return
	}
	for _, o := range idx.List(gk, namespace) {
		fn(o)
	}
}

// Overlay shows obj in place of whatever base holds under its name: the
// webhook checks the incoming version of an object against a cache that
// still holds the old one (or none).
func Overlay(base Index, obj *Object) Index {
	return overlay{base: base, obj: obj}
}

type overlay struct {
	base Index
	obj  *Object
}

func (o overlay) Get(gk schema.GroupKind, namespace, name string) *Object {
	if gk == o.obj.gk && namespace == o.obj.ref.Namespace && name == o.obj.ref.Name {
		return o.obj
	}
	return o.base.Get(gk, namespace, name)
}

// HasNamespace keeps the base's answer, so an overlay over lint's index is
// as partial as the index itself; the overlaid object's namespace is known.
func (o overlay) HasNamespace(ns string) bool {
	return ns == o.obj.ref.Namespace || NamespaceKnown(o.base, ns)
}

// HoldsKind keeps the base's answer, adding the overlaid object.
func (o overlay) HoldsKind(gk schema.GroupKind, ns string) bool {
	if gk == o.obj.gk && ns == o.obj.ref.Namespace {
		return true
	}
	if k, ok := o.base.(NamespaceKnower); ok {
		return k.HoldsKind(gk, ns)
	}
	return true
}

// Serves keeps the base's answer.
func (o overlay) Serves(gk schema.GroupKind) bool { return KindKnown(o.base, gk) }

// Version is the base's when obj is of none of kinds: a fact about those
// kinds is then the same with or without obj.
func (o overlay) Version(kinds []schema.GroupKind) (any, uint64, bool) {
	vi, ok := o.base.(Versioned)
	if !ok || slices.Contains(kinds, o.obj.gk) {
		return nil, 0, false
	}
	return vi.Version(kinds)
}

func (o overlay) Kinds() []schema.GroupKind {
	kinds := o.base.Kinds()
	for _, gk := range kinds {
		if gk == o.obj.gk {
			return kinds
		}
	}
	out := append(append([]schema.GroupKind(nil), kinds...), o.obj.gk)
	sortKinds(out)
	return out
}

func (o overlay) Walk(gk schema.GroupKind, namespace string, fn func(*Object)) {
	if gk != o.obj.gk || (namespace != "" && namespace != o.obj.ref.Namespace) {
		Each(o.base, gk, namespace, fn)
		return
	}
	Each(o.base, gk, namespace, func(x *Object) {
		if x.ref.Namespace != o.obj.ref.Namespace || x.ref.Name != o.obj.ref.Name {
			fn(x)
		}
	})
	fn(o.obj)
}

func (o overlay) List(gk schema.GroupKind, namespace string) []*Object {
	list := o.base.List(gk, namespace)
	if gk != o.obj.gk || (namespace != "" && namespace != o.obj.ref.Namespace) {
		return list
	}
	out := make([]*Object, 0, len(list)+1)
	for _, x := range list {
		if x.ref.Namespace == o.obj.ref.Namespace && x.ref.Name == o.obj.ref.Name {
			continue
		}
		out = append(out, x)
	}
	return append(out, o.obj)
}
