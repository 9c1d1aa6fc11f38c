package checks

import (
	"fmt"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostRunAsNonRoot catches runAsNonRoot on Bifrost images whose user the
// kubelet cannot verify.
var BifrostRunAsNonRoot = &rules.Rule{
	ID:       "bifrost-run-as-non-root",
	Summary:  "runAsNonRoot on a Bifrost image before v1.6.4 needs a numeric runAsUser",
	Severity: rules.Error,
	Rationale: "Up to v1.6.3 the Bifrost image declares a named user (`USER appuser`, UID 1000; " +
		"maximhq/bifrost transports/Dockerfile). With `runAsNonRoot: true` (on the pod or the " +
		"container) and no numeric `runAsUser`, the kubelet cannot verify that the named user is not " +
		"root and refuses to start the container (CreateContainerConfigError: \"container has " +
		"runAsNonRoot and image has non-numeric user (appuser), cannot verify user is non-root\"; " +
		"Bifrost's Helm chart README, PR #5215). From v1.6.4 the image declares the numeric `USER " +
		"1000:0` and the kubelet can verify it. Set `runAsUser: 1000`. Reported where the image tag " +
		"shows a release before v1.6.4; latest and unknown tags are not judged.",
	Kinds: rules.PodTemplateKinds,
	Check: checkRunAsNonRoot,
}

func checkRunAsNonRoot(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	pod := t.Spec.SecurityContext
	for _, ctr := range bifrost.Containers(t) {
		if !bifrost.Before(ctr.Version, "1.6.4") {
			continue
		}
		nonRoot, user := false, false
		at := t.SpecPath().Child("securityContext", "runAsNonRoot")
		if pod != nil {
			nonRoot = pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
			user = pod.RunAsUser != nil
		}
		if sc := ctr.SecurityContext; sc != nil {
			if sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
				at = ctr.Path.Child("securityContext", "runAsNonRoot")
			}
			user = user || sc.RunAsUser != nil
		}
		if nonRoot && !user {
			c.Report(rules.Finding{Path: at, Message: fmt.Sprintf(
				"container %q runs %s, whose image declares the named user appuser (releases before v1.6.4), with runAsNonRoot and no numeric runAsUser, so the kubelet cannot verify the user and refuses to start it (CreateContainerConfigError); set runAsUser: 1000",
				ctr.Name, ctr.Image)})
		}
	}
}
