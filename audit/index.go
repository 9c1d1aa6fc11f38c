package audit

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// clusterIndex is the cluster as the audit read it: complete for the
// audited namespaces (an object missing there is really missing), silent
// about other namespaces when auditing one, and blind to the kinds it
// could not list, which the engine's CheckJudged turns into "could not
// judge". A kind the API server does not serve is served here, empty:
// nothing of it can exist.
type clusterIndex struct {
	*rules.MemIndex
	namespace string
	unread    map[schema.GroupKind]bool
}

func newClusterIndex(objs []*rules.Object, namespace string, unread []Unread) *clusterIndex {
	idx := &clusterIndex{MemIndex: rules.NewMemIndex(objs), namespace: namespace, unread: map[schema.GroupKind]bool{}}
	for _, u := range unread {
		idx.unread[u.Kind] = true
	}
	return idx
}

// HasNamespace implements rules.NamespaceKnower.
func (idx *clusterIndex) HasNamespace(ns string) bool {
	return idx.namespace == "" || ns == idx.namespace
}

// Serves implements rules.KindServer.
func (idx *clusterIndex) Serves(gk schema.GroupKind) bool { return !idx.unread[gk] }
