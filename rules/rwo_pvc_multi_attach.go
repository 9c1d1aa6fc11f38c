package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	PersistentVolumeClaimKind   = schema.GroupKind{Kind: "PersistentVolumeClaim"}
	HorizontalPodAutoscalerKind = schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
)

// RWOPVCMultiAttach catches Deployments whose pods would share a volume that
// only one node can attach.
var RWOPVCMultiAttach = &Rule{
	ID:       "rwo-pvc-multi-attach",
	Summary:  "A Deployment on a ReadWriteOnce PVC must run one pod at a time (several replicas: error, RollingUpdate: warning)",
	Severity: Error,
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
	Kinds: []schema.GroupKind{DeploymentKind},
	Check: checkRWOMultiAttach,
}

// singleAttachClaim is a pod volume backed by a claim only one node (or pod)
// can use.
type singleAttachClaim struct {
	claim, mode string
	path        Path
}

func checkRWOMultiAttach(c *Context, obj *Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	var claims []singleAttachClaim
	for i, v := range t.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc := c.Index.Get(PersistentVolumeClaimKind, obj.Namespace(), v.PersistentVolumeClaim.ClaimName)
		if mode := singleAttachMode(pvc); mode != "" {
			claims = append(claims, singleAttachClaim{v.PersistentVolumeClaim.ClaimName, mode, t.SpecPath().Child("volumes", i)})
		}
	}
	if len(claims) == 0 {
		return
	}
	claim := claims[0]
	fix := "run one replica with strategy: {type: Recreate}, or a StatefulSet with volumeClaimTemplates (one volume per pod)"
	replicas := int64(1)
	if n, ok := asInt(LookupMap(obj.Content, "spec")["replicas"]); ok {
		replicas = n
	}
	if replicas > 1 {
		c.Reportf(P("spec", "replicas"),
			"%d replicas share the %s PVC %q, so %s; %s",
			replicas, claim.mode, claim.claim, claim.extraPodsHang(), fix)
		return
	}
	if hpa, maxReplicas := scalingAutoscaler(c.Index, obj); maxReplicas > 1 {
		c.Reportf(claim.path,
			"HorizontalPodAutoscaler %s scales this Deployment up to %d replicas on the %s PVC %q, so %s once it scales; %s, and cap maxReplicas at 1",
			hpa, maxReplicas, claim.mode, claim.claim, claim.extraPodsHang(), fix)
		return
	}
	if replicas == 1 && rollingSurge(obj) {
		// The message is the same whether RollingUpdate is written or
		// defaulted: the API server fills in the default before the webhook
		// sees the object, and both doors must say the same thing.
		c.Report(Finding{Severity: Warning, Path: P("spec", "strategy", "type"), Message: fmt.Sprintf(
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

// singleAttachMode returns ReadWriteOnce or ReadWriteOncePod when that is all
// the claim asks for; a claim that also asks for a many-node mode is bound
// to a volume that supports it.
func singleAttachMode(pvc *Object) string {
	if pvc == nil {
		return ""
	}
	mode := ""
	for _, m := range LookupList(pvc.Content, "spec", "accessModes") {
		switch m {
		case "ReadWriteMany", "ReadOnlyMany":
			return ""
		case "ReadWriteOncePod":
			mode = "ReadWriteOncePod"
		case "ReadWriteOnce":
			if mode == "" {
				mode = "ReadWriteOnce"
			}
		}
	}
	return mode
}

// scalingAutoscaler finds a HorizontalPodAutoscaler (any version) in the
// Deployment's namespace that targets it, and its maxReplicas.
func scalingAutoscaler(idx Index, deploy *Object) (string, int64) {
	for _, hpa := range idx.List(HorizontalPodAutoscalerKind, deploy.Namespace()) {
		ref := LookupMap(hpa.Content, "spec", "scaleTargetRef")
		if LookupString(ref, "kind") != "Deployment" || LookupString(ref, "name") != deploy.Name() {
			continue
		}
		if api := LookupString(ref, "apiVersion"); api != "" && !strings.HasPrefix(api, "apps/") {
			continue
		}
		if n, ok := asInt(LookupMap(hpa.Content, "spec")["maxReplicas"]); ok {
			return hpa.Name(), n
		}
	}
	return "", 0
}

// rollingSurge reports whether a one-replica Deployment's rollout runs the
// new pod next to the old one: RollingUpdate (the default) with a maxSurge
// (default 25%, rounded up) of at least one pod.
func rollingSurge(obj *Object) bool {
	strategy := LookupMap(obj.Content, "spec", "strategy")
	if typ := LookupString(strategy, "type"); typ != "" && typ != "RollingUpdate" {
		return false
	}
	surge, ok := LookupMap(strategy, "rollingUpdate")["maxSurge"]
	if !ok || surge == nil {
		return true
	}
	if n, ok := asInt(surge); ok {
		return n > 0
	}
	s, _ := surge.(string)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		return err != nil || math.Ceil(f/100) > 0
	}
	n, err := strconv.Atoi(s)
	return err != nil || n > 0
}
