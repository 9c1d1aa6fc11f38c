package checks

import (
	"fmt"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// ConfigRolloutHash makes a config change roll the pods that read it.
var ConfigRolloutHash = &rules.Rule{
	ID:       "config-rollout-hash",
	Summary:  "Workloads reading a Bifrost config must carry a current gjallar.dev/config-hash (missing: warning, stale: error)",
	Severity: rules.Error,
	Fixable:  true,
	Rationale: "Kubernetes does not restart pods when a ConfigMap changes, and Bifrost reads config.json " +
		"only when it starts (there is no reload API: maximhq/bifrost issue #1480), so a changed config " +
		"does nothing until the pods restart. On restart, current Bifrost syncs the changed providers and " +
		"client settings from config.json into its store by a content hash (since about v1.3.44; " +
		"transports/bifrost-http/lib/config.go at v1.5.11); plugin settings (otel included) are replaced " +
		"only when the plugin's `version` is raised or `source_of_truth` is \"config.json\" (v1.5.9+). " +
		"The point is the restart itself. The pod-template annotation `gjallar.dev/config-hash` holds a " +
		"hash of the ConfigMaps the pods read, so a config change changes the template and rolls the " +
		"pods. Applies to Deployments, StatefulSets and DaemonSets that read a ConfigMap holding a " +
		"Bifrost config, or any ConfigMap when the workload or its pod template is annotated " +
		"`gjallar.dev/restart-on-config-change: \"true\"`. A workload that already rolls by a common means " +
		"needs no second hash: a Helm `checksum/...` pod-template annotation (Bifrost's own chart sets " +
		"`checksum/config`) or Stakater Reloader's reloader.stakater.com/auto, " +
		"configmap.reloader.stakater.com/auto, configmap.reloader.stakater.com/reload naming the " +
		"ConfigMaps, or reloader.stakater.com/search with the ConfigMaps annotated " +
		"reloader.stakater.com/match. A missing hash is a warning, a stale one an error. `gjallar lint " +
		"--fix` and the mutating webhook stamp the same value. In the cluster a stale hash is a warning: " +
		"the webhook checks it against the API server first (replicas' caches can disagree for a while " +
		"after a watch breaks), and the restart controller re-stamps it.",
	Kinds: rules.RolloutKinds,
	Check: checkConfigRolloutHash,
}

func checkConfigRolloutHash(c *rules.Context, obj *rules.Object) {
	want, names, ok := rollout.DesiredConfigHash(obj, c.Index)
	if !ok {
		return
	}
	t, _ := obj.PodTemplate()
	at := rollout.ConfigHashPath(t)
	fix := &rules.Fix{
		Description: "stamp " + rollout.AnnotationConfigHash,
		Edits:       []rules.Edit{{Path: at, Value: want}},
	}
	list := "ConfigMap " + names[0]
	if len(names) > 1 {
		list = "ConfigMaps " + strings.Join(names, ", ")
	}
	have, present := t.Meta.Annotations[rollout.AnnotationConfigHash]
	switch {
	case !present:
		c.Report(rules.Finding{Severity: rules.Warning, Path: at, Fix: fix, Message: fmt.Sprintf(
			"pod template has no %s and nothing else rolls the pods (a Helm checksum/ annotation, Stakater Reloader), so they keep running the old config after %s changes; run gjallar lint --fix or let the webhook stamp it",
			rollout.AnnotationConfigHash, list)})
	case have != want:
		c.Report(rules.Finding{Severity: rules.Error, Path: at, Fix: fix, Message: fmt.Sprintf(
			"%s is stale: %s changed since it was stamped, so the running pods still use the old config; set it to %s (gjallar lint --fix)",
			rollout.AnnotationConfigHash, list, want)})
	}
}
