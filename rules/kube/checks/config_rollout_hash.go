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
	Rationale: "Bifrost reads config.json once into its SQLite store; a changed ConfigMap does nothing " +
		"until the pods restart with a fresh store, and Kubernetes does not restart pods when a " +
		"ConfigMap changes. The pod-template annotation `gjallar.dev/config-hash` holds a hash of the " +
		"ConfigMaps the pods read, so a config change changes the template and rolls the pods. " +
		"Applies to Deployments, StatefulSets and DaemonSets that read a ConfigMap holding a Bifrost " +
		"config, or any ConfigMap when the workload or its pod template is annotated " +
		"`gjallar.dev/restart-on-config-change: \"true\"`. A missing hash is a warning, a stale one an " +
		"error. `gjallar lint --fix` and the mutating webhook stamp the same value.",
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
			"pod template has no %s, so the pods keep running the old config after %s changes (Bifrost keeps serving it from its store); run gjallar lint --fix or let the webhook stamp it",
			rollout.AnnotationConfigHash, list)})
	case have != want:
		c.Report(rules.Finding{Severity: rules.Error, Path: at, Fix: fix, Message: fmt.Sprintf(
			"%s is stale: %s changed since it was stamped, so the running pods still use the old config; set it to %s (gjallar lint --fix)",
			rollout.AnnotationConfigHash, list, want)})
	}
}
