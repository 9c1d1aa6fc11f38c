// Package v1alpha2 holds the wgpolicyk8s.io/v1alpha2 PolicyReport and
// ClusterPolicyReport types, the report API of the Kubernetes Policy
// working group that Kyverno, Policy Reporter and `kubectl get polr` read.
// gjallar writes them; the CRD in charts/gjallar is generated from these
// types with controller-gen (go generate ./audit/...), and a test holds
// their shape to the upstream CRD's, field for field.
//
// No Go module that serves these types is available from the module proxy
// (sigs.k8s.io/wg-policy-prototypes is not published there, and Kyverno's
// copy lives inside the whole of Kyverno's module), so they are defined
// here.
//
// +groupName=wgpolicyk8s.io
package v1alpha2

import "k8s.io/apimachinery/pkg/runtime/schema"

// GroupVersion is wgpolicyk8s.io/v1alpha2.
var GroupVersion = schema.GroupVersion{Group: "wgpolicyk8s.io", Version: "v1alpha2"}

//go:generate sh -c "$HOME/.cache/gjallar/tools/controller-gen-v0.23.0/controller-gen crd:crdVersions=v1 paths=. output:crd:dir=../../../charts/gjallar/files/crds || go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 crd:crdVersions=v1 paths=. output:crd:dir=../../../charts/gjallar/files/crds"
