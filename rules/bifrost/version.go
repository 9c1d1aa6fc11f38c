package bifrost

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Version is a Bifrost release, read from an image tag (maximhq/bifrost
// tags are vX.Y.Z). nil means the tag does not tell: latest, a digest, a
// build of one's own; rules that depend on the version then stay silent.
type Version = semver.Version

// ImageVersion reads the release from an image reference's tag.
func ImageVersion(image string) *Version {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	if !ok {
		return nil
	}
	v, err := semver.NewVersion(tag)
	if err != nil {
		return nil
	}
	return v
}

// Before reports whether v is known and older than release (as "1.5.9").
func Before(v *Version, release string) bool {
	return v != nil && v.LessThan(semver.MustParse(release))
}

// AtLeast reports whether v is known and release or newer.
func AtLeast(v *Version, release string) bool {
	return v != nil && !v.LessThan(semver.MustParse(release))
}

// ImageIsLatest reports whether an image reference names no release: no
// tag (which pulls latest) or the tag latest. It runs the newest release.
func ImageIsLatest(image string) bool {
	ref := image
	if strings.Contains(ref, "@") {
		return false // pinned by digest: some release, which one is unknown
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	return !ok || tag == "latest"
}

// ReadersAtLeast says whether the Bifrost images reading a config are at
// least release: yes when one is known or latest and none is known older,
// no when all are known older, unknown (ok false) when none is visible or
// none tells.
func ReadersAtLeast(readers []Container, release string) (atLeast, ok bool) {
	if len(readers) == 0 {
		return false, false
	}
	if AllBefore(readers, release) {
		return false, true
	}
	for _, r := range readers {
		if AtLeast(r.Version, release) || ImageIsLatest(r.Image) {
			return true, true
		}
	}
	return false, false
}
