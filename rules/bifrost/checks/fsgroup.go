package checks

import (
	"fmt"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostFSGroup makes Bifrost's volume writable for its UID.
var BifrostFSGroup = &rules.Rule{
	ID:       "bifrost-fsgroup",
	Summary:  "A Bifrost pod with a PersistentVolumeClaim must set securityContext.fsGroup",
	Severity: rules.Error,
	Rationale: "The Bifrost image runs as UID 1000 (group 1000 up to v1.6.3, group 0 from v1.6.4) and " +
		"writes config.db and logs.db into its app dir (maximhq/bifrost transports/Dockerfile). A freshly " +
		"provisioned PersistentVolume is owned by root, so without a pod-level " +
		"`securityContext.fsGroup` (1000) Bifrost cannot write its store and crash-loops; from v1.6.4 " +
		"the entrypoint checks this first and exits advising fsGroup (transports/docker-entrypoint.sh). " +
		"The container-level securityContext has no fsGroup; it must be on the pod. Not reported when " +
		"the pod makes the volume writable another way: an initContainer that mounts it and runs chown " +
		"or chmod, or Bifrost running as root. On OpenShift, whose restricted SCC assigns the pod's " +
		"fsGroup itself, disable the rule.",
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
	if claim == "" || writableOtherwise(t, bifrost[0]) {
		return
	}
	c.Reportf(t.SpecPath().Child("securityContext", "fsGroup"),
		"Bifrost container %q runs as UID 1000 and cannot write to %s without a pod-level fsGroup, so it fails to create its store; set %s: 1000",
		bifrost[0].Name, claim, t.SpecPath().Child("securityContext", "fsGroup"))
}

// writableOtherwise: an initContainer that mounts a claim volume fixes its
// ownership (chown or chmod in its command), or Bifrost runs as root.
func writableOtherwise(t *rules.PodTemplate, ctr bifrost.Container) bool {
	if sc := ctr.SecurityContext; sc != nil && sc.RunAsUser != nil {
		return *sc.RunAsUser == 0
	}
	if sc := t.Spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		return true
	}
	claims := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			claims[v.Name] = true
		}
	}
	for _, ct := range t.ClaimTemplates {
		claims[ct.Name] = true
	}
	for _, init := range t.Spec.InitContainers {
		script := strings.Join(append(append([]string(nil), init.Command...), init.Args...), " ")
		if !strings.Contains(script, "chown") && !strings.Contains(script, "chmod") {
			continue
		}
		for _, m := range init.VolumeMounts {
			if claims[m.Name] {
				return true
			}
		}
	}
	return false
}
