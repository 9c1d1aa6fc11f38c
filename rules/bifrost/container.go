package bifrost

import (
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// IsImage reports whether an image reference's repository ends in a path
// element named "bifrost" (maximhq/bifrost, mirrors of it, bifrost/bifrost).
func IsImage(image string) bool {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.Index(last, ":"); i >= 0 {
		last = last[:i]
	}
	return strings.EqualFold(last, "bifrost")
}

// Containers returns the regular containers of a pod template that run a
// Bifrost image.
func Containers(t *rules.PodTemplate) []rules.ContainerAt {
	var out []rules.ContainerAt
	for _, c := range t.Containers() {
		if !c.Init && IsImage(c.Image) {
			out = append(out, c)
		}
	}
	return out
}
