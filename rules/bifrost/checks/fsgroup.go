package checks

import (
	"fmt"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostFSGroup makes Bifrost's volume writable for its UID.
var BifrostFSGroup = &rules.Rule{
	ID:       "bifrost-fsgroup",
	Summary:  "A Bifrost pod with a PersistentVolumeClaim must set securityContext.fsGroup",
	Severity: rules.Error,
	Rationale: "The Bifrost image runs as UID 1000 and writes config.db into its app dir. A freshly " +
		"provisioned PersistentVolume is owned by root, so without a pod-level " +
		"`securityContext.fsGroup` (1000) Bifrost cannot write its store and crash-loops. The " +
		"container-level securityContext has no fsGroup; it must be on the pod.",
	Kinds: rules.PodTemplateKinds,
	Check: checkFSGroup,
}

func checkFSGroup(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	bifrost := bifrost.Containers(t)
	if len(bifrost) == 0 {
		return
	}
	if sc := t.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return
	}
	claim := ""
	for _, v := range t.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = fmt.Sprintf("volume %q (claim %q)", v.Name, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			claim = fmt.Sprintf("ephemeral volume %q", v.Name)
		}
		if claim != "" {
			break
		}
	}
	if claim == "" && len(t.ClaimTemplates) > 0 {
		claim = fmt.Sprintf("volumeClaimTemplate %q", t.ClaimTemplates[0].Name)
	}
	if claim == "" {
		return
	}
	c.Reportf(t.SpecPath().Child("securityContext", "fsGroup"),
		"Bifrost container %q runs as UID 1000 and cannot write to %s without a pod-level fsGroup, so it fails to create its store; set %s: 1000",
		bifrost[0].Name, claim, t.SpecPath().Child("securityContext", "fsGroup"))
}
