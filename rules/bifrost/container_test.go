package bifrost

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
)

func container(command, args []string, env []corev1.EnvVar) Container {
	return Container{ContainerAt: rules.ContainerAt{Container: &corev1.Container{Image: "maximhq/bifrost:v1.5.11", Command: command, Args: args, Env: env}}}
}

func TestAppDir(t *testing.T) {
	main := func(args ...string) []string { return append([]string{"/app/main"}, args...) }
	cases := []struct {
		name          string
		command, args []string
		env           []corev1.EnvVar
		want, how     string
		ok            bool
	}{
		{"image default", nil, nil, nil, "/app/data", "the image's default APP_DIR", true},
		{"args are not passed on by the entrypoint", nil, []string{"-app-dir", "/data"}, nil, "/app/data", "the image's default APP_DIR", true},
		{"env APP_DIR", nil, nil, []corev1.EnvVar{{Name: "APP_DIR", Value: "/data/"}}, "/data", "env APP_DIR", true},
		{"env with kubelet expansion", nil, nil, []corev1.EnvVar{{Name: "DIR", Value: "/data"}, {Name: "APP_DIR", Value: "$(DIR)/bifrost"}}, "/data/bifrost", "env APP_DIR", true},
		{"env from a Secret cannot be known", nil, nil, []corev1.EnvVar{{Name: "APP_DIR", ValueFrom: &corev1.EnvVarSource{}}}, "", "", false},
		{"the entrypoint named as command", []string{"/app/docker-entrypoint.sh"}, nil, []corev1.EnvVar{{Name: "APP_DIR", Value: "/srv"}}, "/srv", "env APP_DIR", true},
		{"main with equals, two dashes", main("--app-dir=/var/lib/bifrost/"), nil, nil, "/var/lib/bifrost", "-app-dir", true},
		{"main, last wins", main("-app-dir", "/a"), []string{"-app-dir=/b"}, nil, "/b", "-app-dir", true},
		{"inside a shell string", []string{"sh", "-c", "exec /app/main -app-dir /srv/bifrost -port 8080"}, nil, nil, "/srv/bifrost", "-app-dir", true},
		{"quoted in a shell string", []string{"sh", "-c", "/app/main -app-dir '/srv/b'"}, nil, nil, "/srv/b", "-app-dir", true},
		{"shell variable cannot be known", []string{"sh", "-c", "/app/main -app-dir $DATA"}, nil, nil, "", "", false},
		{"relative", main("-app-dir", "data"), nil, nil, "", "", false},
		{"main without -app-dir uses the user's config dir", main(), nil, nil, "", "", false},
		{"a flag that only looks similar", main("-app-dirs", "/x"), nil, nil, "", "", false},
		{"another program", []string{"/bin/sleep", "infinity"}, nil, nil, "", "", false},
	}
	for _, c := range cases {
		got, how, ok := container(c.command, c.args, c.env).AppDir()
		if got != c.want || how != c.how || ok != c.ok {
			t.Errorf("%s: (%q, %q, %v), want (%q, %q, %v)", c.name, got, how, ok, c.want, c.how, c.ok)
		}
	}
}

func TestIgnoredArgs(t *testing.T) {
	cases := []struct {
		command, args, want []string
	}{
		{nil, nil, nil},
		{nil, []string{"-port", "9090", "--host", "0.0.0.0"}, nil},
		{nil, []string{"-app-dir", "/app/data"}, []string{"-app-dir", "/app/data"}},
		{nil, []string{"-port", "9090", "-log-level", "debug"}, []string{"-log-level", "debug"}},
		{[]string{"/app/docker-entrypoint.sh", "-app-dir"}, []string{"/x"}, []string{"-app-dir", "/x"}},
		{[]string{"/app/main"}, []string{"-app-dir", "/x"}, nil},
	}
	for _, c := range cases {
		if got := container(c.command, c.args, nil).IgnoredArgs(); !slices.Equal(got, c.want) {
			t.Errorf("%v %v: %v, want %v", c.command, c.args, got, c.want)
		}
	}
}

func TestImageVersion(t *testing.T) {
	cases := map[string]string{
		"maximhq/bifrost:v1.5.11":                         "1.5.11",
		"docker.io/maximhq/bifrost:1.4.11":                "1.4.11",
		"registry.example.com:5000/mirror/bifrost:v1.6.4": "1.6.4",
		"maximhq/bifrost:latest":                          "",
		"maximhq/bifrost":                                 "",
		"maximhq/bifrost@sha256:0123abcd":                 "",
		"maximhq/bifrost:v1.5.9@sha256:0123abcd":          "1.5.9",
	}
	for image, want := range cases {
		v := ImageVersion(image)
		got := ""
		if v != nil {
			got = v.String()
		}
		if got != want {
			t.Errorf("%s: %q, want %q", image, got, want)
		}
	}
	if !Before(ImageVersion("maximhq/bifrost:v1.5.8"), "1.5.9") || Before(ImageVersion("maximhq/bifrost:v1.5.9"), "1.5.9") || Before(nil, "1.5.9") || AtLeast(nil, "1.5.9") {
		t.Error("Before/AtLeast")
	}
}
