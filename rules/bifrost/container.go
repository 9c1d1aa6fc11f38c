package bifrost

import (
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
)

// The official image (transports/Dockerfile) runs transports/docker-
// entrypoint.sh, which starts `/app/main -app-dir "$APP_DIR" -port
// "$APP_PORT" -host "$APP_HOST" -log-level "$LOG_LEVEL" -log-style
// "$LOG_STYLE"` with the image's defaults below. It reads -port/--port and
// -host/--host from the container's args and keeps no other argument: at
// v1.5.11 (and every released entrypoint since PR #338, v1.2.x) two or more
// other arguments make its argument loop spin forever, so the container
// never starts, and a single one is ignored (maximhq/bifrost
// transports/docker-entrypoint.sh, transports/Dockerfile at v1.5.11,
// commit 9399212).
const (
	DefaultAppDir = "/app/data"
	DefaultPort   = "8080"
)

// EntrypointEnv says which environment variable of the official entrypoint
// does the job of a flag of /app/main.
var EntrypointEnv = map[string]string{
	"app-dir":   "APP_DIR",
	"port":      "APP_PORT",
	"host":      "APP_HOST",
	"log-level": "LOG_LEVEL",
	"log-style": "LOG_STYLE",
}

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

// Container is a container running a Bifrost image.
type Container struct {
	rules.ContainerAt
	// Version is the release its image tag names, or nil.
	Version *Version
}

// Containers returns the regular containers of a pod template that run a
// Bifrost image.
func Containers(t *rules.PodTemplate) []Container {
	var out []Container
	for _, c := range t.Containers() {
		if !c.Init && IsImage(c.Image) {
			out = append(out, Container{ContainerAt: c, Version: ImageVersion(c.Image)})
		}
	}
	return out
}

// UsesEntrypoint reports whether the image's entrypoint runs: no command
// of the container's own (or a command that is the entrypoint script).
func (c Container) UsesEntrypoint() bool {
	if len(c.Command) == 0 {
		return true
	}
	return path.Base(c.Command[0]) == "docker-entrypoint.sh"
}

// IgnoredArgs lists the container args the official entrypoint drops: all
// but -port/--port and -host/--host with their values. Nil when the
// entrypoint does not run or there are no such args.
func (c Container) IgnoredArgs() []string {
	if !c.UsesEntrypoint() {
		return nil
	}
	args := c.Args
	if len(c.Command) > 0 {
		args = append(append([]string(nil), c.Command[1:]...), c.Args...)
	}
	var out []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-port", "--port", "-host", "--host":
			i++ // and its value
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// AppDir says where Bifrost keeps config.json, config.db and logs.db, and
// how that was decided; ok is false when the manifest does not show it (an
// env value from a Secret, a shell variable, /app/main without -app-dir,
// whose default is the user's config directory).
func (c Container) AppDir() (dir string, how string, ok bool) {
	if c.UsesEntrypoint() {
		for _, e := range c.Env {
			if e.Name != "APP_DIR" {
				continue
			}
			if e.ValueFrom != nil {
				return "", "", false
			}
			dir, ok = expandEnvRefs(e.Value, c.Env)
			if !ok || !strings.HasPrefix(dir, "/") {
				return "", "", false
			}
			return path.Clean(dir), "env APP_DIR", true
		}
		return DefaultAppDir, "the image's default APP_DIR", true
	}
	var tokens []string
	for _, s := range append(append([]string(nil), c.Command...), c.Args...) {
		tokens = append(tokens, strings.Fields(s)...)
	}
	runsMain := false
	for i, tok := range tokens {
		tok = strings.Trim(tok, `"'`)
		if path.Base(tok) == "main" || path.Base(tok) == "bifrost-http" {
			runsMain = true
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		if !strings.HasPrefix(tok, "-") || name != "app-dir" {
			continue
		}
		switch {
		case hasValue:
			dir = value
		case i+1 < len(tokens):
			dir = tokens[i+1]
		}
	}
	if !runsMain || dir == "" {
		return "", "", false
	}
	dir, ok = expandEnvRefs(strings.Trim(dir, `"'`), c.Env)
	if !ok || !strings.HasPrefix(dir, "/") {
		return "", "", false
	}
	return path.Clean(dir), "-app-dir", true
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{?[A-Za-z_]`)

// expandEnvRefs applies the kubelet's $(VAR) expansion with literal env
// values; a shell $VAR, or a variable set from elsewhere, cannot be known.
func expandEnvRefs(s string, env []corev1.EnvVar) (string, bool) {
	ok := true
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(m, "$("), ")")
		for _, e := range env {
			if e.Name == name && e.ValueFrom == nil && strings.HasPrefix(m, "$(") {
				return e.Value
			}
		}
		ok = false
		return m
	})
	return out, ok
}
