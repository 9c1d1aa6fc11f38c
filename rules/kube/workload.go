package kube

import (
	"math"
	"strconv"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// SingleAttachMode returns ReadWriteOnce or ReadWriteOncePod when that is
// all the claim asks for; a claim that also asks for a many-node mode is
// bound to a volume that supports it.
func SingleAttachMode(pvc *rules.Object) string {
	if pvc == nil {
		return ""
	}
	mode := ""
	for _, m := range rules.LookupList(pvc.Content, "spec", "accessModes") {
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

// ScalingAutoscaler finds a HorizontalPodAutoscaler (any version) in the
// workload's namespace that targets it, and its maxReplicas.
func ScalingAutoscaler(idx rules.Index, workload *rules.Object) (string, int64) {
	for _, hpa := range idx.List(rules.HorizontalPodAutoscalerKind, workload.Namespace()) {
		ref := rules.LookupMap(hpa.Content, "spec", "scaleTargetRef")
		if rules.LookupString(ref, "kind") != workload.GroupKind().Kind || rules.LookupString(ref, "name") != workload.Name() {
			continue
		}
		if api := rules.LookupString(ref, "apiVersion"); api != "" && !strings.HasPrefix(api, workload.GroupKind().Group+"/") {
			continue
		}
		if n, ok := rules.AsInt(rules.LookupMap(hpa.Content, "spec")["maxReplicas"]); ok {
			return hpa.Name(), n
		}
	}
	return "", 0
}

// RollingSurge reports whether a one-replica Deployment's rollout runs the
// new pod next to the old one: RollingUpdate (the default) with a maxSurge
// (default 25%, rounded up) of at least one pod.
func RollingSurge(obj *rules.Object) bool {
	strategy := rules.LookupMap(obj.Content, "spec", "strategy")
	if typ := rules.LookupString(strategy, "type"); typ != "" && typ != "RollingUpdate" {
		return false
	}
	surge, ok := rules.LookupMap(strategy, "rollingUpdate")["maxSurge"]
	if !ok || surge == nil {
		return true
	}
	if n, ok := rules.AsInt(surge); ok {
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
