package checks

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCoveringMount(t *testing.T) {
	mounts := []corev1.VolumeMount{
		{Name: "root", MountPath: "/"},
		{Name: "app", MountPath: "/app/"},
		{Name: "data", MountPath: "/app/data"},
		{Name: "db", MountPath: "/app/database"},
	}
	cases := map[string]string{
		"/app/data":     "data",
		"/app/data/sub": "data",
		"/app/dat":      "app",
		"/app/db":       "app",
		"/srv":          "root",
	}
	for p, want := range cases {
		if got := coveringMount(mounts, p); got == nil || got.Name != want {
			t.Errorf("%s: %+v, want %s", p, got, want)
		}
	}
	if got := coveringMount(mounts[2:], "/srv"); got != nil {
		t.Errorf("/srv has no mount, got %+v", got)
	}
}
