package builtin

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// lookedUp are the kinds the built-in rules read through the index besides
// those they check: what a workload mounts, which Service fronts it, what
// a route's parent admits. A test runs every rule fixture and fails when a
// rule reads a kind missing from Kinds.
var lookedUp = []schema.GroupKind{
	rules.NamespaceKind,
	rules.ConfigMapKind,
	rules.SecretKind,
	rules.ServiceKind,
	rules.PersistentVolumeClaimKind,
	rules.HorizontalPodAutoscalerKind,
	gateway.GatewayKind,
	gateway.GatewayClassKind,
	gateway.HTTPRouteKind,
	gateway.ReferenceGrantKind,
	gateway.GatewayParametersKind,
}

// Kinds returns the Kubernetes kinds the built-in rules check or look up,
// sorted by group and kind: what a door that gathers the objects itself
// (the audit, listing the cluster) must read. Standalone file kinds
// (Files) are not Kubernetes kinds and are left out.
func Kinds() []schema.GroupKind {
	set := map[schema.GroupKind]bool{}
	for _, gk := range lookedUp {
		set[gk] = true
	}
	for _, r := range Rules() {
		for _, gk := range r.Kinds {
			set[gk] = true
		}
	}
	for _, f := range Files {
		delete(set, f.Kind)
	}
	out := make([]schema.GroupKind, 0, len(set))
	for gk := range set {
		out = append(out, gk)
	}
	slices.SortFunc(out, func(a, b schema.GroupKind) int {
		if a.Group != b.Group {
			if a.Group < b.Group {
				return -1
			}
			return 1
		}
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	return out
}
