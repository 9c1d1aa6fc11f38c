package checks

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestBifrostAppDir(t *testing.T) {
	cases := []struct {
		name          string
		command, args []string
		env           []corev1.EnvVar
		want          string
		ok            bool
	}{
		{"default", nil, nil, nil, "/app/data", true},
		{"separate value", nil, []string{"-app-dir", "/data"}, nil, "/data", true},
		{"equals, two dashes", []string{"/app/main", "--app-dir=/var/lib/bifrost/"}, nil, nil, "/var/lib/bifrost", true},
		{"last wins", nil, []string{"-app-dir", "/a", "-app-dir=/b"}, nil, "/b", true},
		{"inside a shell string", []string{"sh", "-c", "exec /app/main -app-dir /srv/bifrost -port 8080"}, nil, nil, "/srv/bifrost", true},
		{"quoted in a shell string", []string{"sh", "-c", "/app/main -app-dir '/srv/b'"}, nil, nil, "/srv/b", true},
		{"kubelet expansion", nil, []string{"-app-dir", "$(DIR)/bifrost"}, []corev1.EnvVar{{Name: "DIR", Value: "/data"}}, "/data/bifrost", true},
		{"env from a Secret cannot be known", nil, []string{"-app-dir", "$(DIR)"}, []corev1.EnvVar{{Name: "DIR", ValueFrom: &corev1.EnvVarSource{}}}, "", false},
		{"shell variable cannot be known", []string{"sh", "-c", "/app/main -app-dir $DATA"}, nil, nil, "", false},
		{"relative", nil, []string{"-app-dir", "data"}, nil, "", false},
		{"other flag that only looks similar", nil, []string{"-app-dirs", "/x"}, nil, "/app/data", true},
	}
	for _, c := range cases {
		got, ok := bifrostAppDir(&corev1.Container{Command: c.command, Args: c.args, Env: c.env})
		if got != c.want || ok != c.ok {
			t.Errorf("%s: (%q, %v), want (%q, %v)", c.name, got, ok, c.want, c.ok)
		}
	}
}

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
