package rollout

import (
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// What teams already use to roll pods on a config change, besides
// gjallar's own hash:
//   - Helm charts put a checksum of the rendered ConfigMap on the pod
//     template (`checksum/config`, Helm's documented "automatically roll
//     deployments" pattern; Bifrost's own chart does it:
//     maximhq/bifrost helm-charts/bifrost/templates/deployment.yaml and
//     stateful.yaml);
//   - Stakater Reloader patches workloads annotated on their metadata with
//     reloader.stakater.com/auto, configmap.reloader.stakater.com/auto,
//     configmap.reloader.stakater.com/reload (a list of ConfigMap names),
//     or reloader.stakater.com/search with the ConfigMap annotated
//     reloader.stakater.com/match (stakater/Reloader README, v1.3.0).
const (
	helmChecksumPrefix    = "checksum/"
	reloaderAuto          = "reloader.stakater.com/auto"
	reloaderConfigMapAuto = "configmap.reloader.stakater.com/auto"
	reloaderReload        = "configmap.reloader.stakater.com/reload"
	reloaderSearch        = "reloader.stakater.com/search"
	reloaderMatch         = "reloader.stakater.com/match"
)

// RolledElsewhere says what already rolls the workload's pods when the
// ConfigMaps cms change, or "" when nothing visible does.
func RolledElsewhere(obj *rules.Object, t *rules.PodTemplate, cms []*rules.Object) string {
	for k := range t.Meta.Annotations {
		if strings.HasPrefix(k, helmChecksumPrefix) {
			return "the pod-template annotation " + k + " (Helm)"
		}
	}
	ann := obj.Annotations()
	for _, k := range []string{reloaderAuto, reloaderConfigMapAuto} {
		if strings.EqualFold(ann[k], "true") {
			return "Stakater Reloader (" + k + ")"
		}
	}
	if list, ok := ann[reloaderReload]; ok && coversAll(cms, func(cm *rules.Object) bool { return listed(list, cm.Name()) }) {
		return "Stakater Reloader (" + reloaderReload + ")"
	}
	if strings.EqualFold(ann[reloaderSearch], "true") && coversAll(cms, func(cm *rules.Object) bool { return strings.EqualFold(cm.Annotations()[reloaderMatch], "true") }) {
		return "Stakater Reloader (" + reloaderSearch + ")"
	}
	return ""
}

func coversAll(cms []*rules.Object, covered func(*rules.Object) bool) bool {
	for _, cm := range cms {
		if !covered(cm) {
			return false
		}
	}
	return len(cms) > 0
}

func listed(list, name string) bool {
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}
