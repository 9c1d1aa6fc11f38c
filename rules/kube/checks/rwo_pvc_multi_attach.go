// Package checks holds the rules that guard Kubernetes workloads themselves:
// how their volumes attach and whether a config change reaches their pods.
package checks

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// RWOPVCMultiAttach catches Deployments whose pods would share a volume that
// only one node can attach.
var RWOPVCMultiAttach = &rules.Rule{
	ID:       "rwo-pvc-multi-attach",
	Summary:  "A Deployment on a ReadWriteOnce PVC must run one pod at a time (several replicas: error, RollingUpdate: warning)",
	Severity: rules.Error,
	Rationale: "A ReadWriteOnce volume attaches to one node at a time (ReadWriteOncePod to one pod), and " +
		"every replica of a Deployment mounts the same claim. The runbook's Bifrost Deployment runs " +
		"`replicas: 3` on one ReadWriteOnce PVC: the pods scheduled on other nodes hang in " +
		"ContainerCreating with a Multi-Attach error. An autoscaler with maxReplicas above 1 does the " +
		"same once it scales. With one replica, the default RollingUpdate strategy starts the new pod " +
		"before stopping the old one, and when the new pod lands on another node the rollout stalls the " +
		"same way. Write `strategy: {type: Recreate}` with one replica (or RollingUpdate with " +
		"maxSurge: 0), or use a StatefulSet whose volumeClaimTemplates give each pod its own volume. " +
		"The claim is looked up by name in the Deployment's namespace; a claim not in the input is not " +
		"judged.",
	Kinds: []schema.GroupKind{rules.DeploymentKind},
	Check: checkRWOMultiAttach,
}

// singleAttachClaim is a pod volume backed by a claim only one node (or pod)
// can use.
type singleAttachClaim struct {
	claim, mode string
	path        rules.Path
}

func checkRWOMultiAttach(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	var claims []singleAttachClaim
	for i, v := range t.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc := c.Index.Get(rules.PersistentVolumeClaimKind, obj.Namespace(), v.PersistentVolumeClaim.ClaimName)
		if mode := kube.SingleAttachMode(pvc); mode != "" {
			claims = append(claims, singleAttachClaim{v.PersistentVolumeClaim.ClaimName, mode, t.SpecPath().Child("volumes", i)})
		}
	}
	if len(claims) == 0 {
		return
	}
	claim := claims[0]
	fix := "run one replica with strategy: {type: Recreate}, or a StatefulSet with volumeClaimTemplates (one volume per pod)"
	replicas := int64(1)
	if n, ok := rules.AsInt(rules.LookupMap(obj.Content, "spec")["replicas"]); ok {
		replicas = n
	}
	if replicas > 1 {
		c.Reportf(rules.P("spec", "replicas"),
			"%d replicas share the %s PVC %q, so %s; %s",
			replicas, claim.mode, claim.claim, claim.extraPodsHang(), fix)
		return
	}
	if hpa, maxReplicas := kube.ScalingAutoscaler(c.Index, obj); maxReplicas > 1 {
		c.Reportf(claim.path,
			"HorizontalPodAutoscaler %s scales this Deployment up to %d replicas on the %s PVC %q, so %s once it scales; %s, and cap maxReplicas at 1",
			hpa, maxReplicas, claim.mode, claim.claim, claim.extraPodsHang(), fix)
		return
	}
	if replicas == 1 && kube.RollingSurge(obj) {
		// The message is the same whether RollingUpdate is written or
		// defaulted: the API server fills in the default before the webhook
		// sees the object, and both doors must say the same thing.
		c.Report(rules.Finding{Severity: rules.Warning, Path: rules.P("spec", "strategy", "type"), Message: fmt.Sprintf(
			"the single replica on the %s PVC %q rolls out with RollingUpdate (the default strategy), which starts the new pod before stopping the old one, so %s and the rollout stalls; set strategy: {type: Recreate}, or use a StatefulSet",
			claim.mode, claim.claim, claim.newPodHangs())})
	}
}

func (s singleAttachClaim) extraPodsHang() string {
	if s.mode == "ReadWriteOncePod" {
		return "every pod but one stays Pending"
	}
	return "the pods scheduled on other nodes hang in ContainerCreating (Multi-Attach error)"
}

func (s singleAttachClaim) newPodHangs() string {
	if s.mode == "ReadWriteOncePod" {
		return "the new pod stays Pending"
	}
	return "a new pod on another node hangs in ContainerCreating (Multi-Attach error)"
}
