package checks

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// defaultAppDir is where the Bifrost image keeps config.json and config.db
// unless -app-dir says otherwise.
const defaultAppDir = "/app/data"

// BifrostAppDir checks that Bifrost's app dir is a volume and that the
// config it is given actually lands there.
var BifrostAppDir = &rules.Rule{
	ID:       "bifrost-app-dir",
	Summary:  "Bifrost's -app-dir must be a writable volume that receives the config.json from its ConfigMap",
	Severity: rules.Warning,
	Rationale: "Bifrost reads `<app-dir>/config.json` (app dir from `-app-dir DIR` or `-app-dir=DIR`, " +
		"default /app/data) and keeps its store, config.db, next to it. Without a volume there the " +
		"store lives in the container's own filesystem and is lost on every restart; a ConfigMap or " +
		"read-only volume there leaves Bifrost unable to write it. A ConfigMap (or Secret) holding the " +
		"config only takes effect if it reaches the app dir: mounted at `<app-dir>/config.json` " +
		"(subPath), or copied there by an initContainer that mounts both the config volume and the " +
		"app-dir volume, as the runbook's `cp /config/config.json /app/data/config.json` does. " +
		"Mounted anywhere else, Bifrost starts without it.",
	Kinds: rules.PodTemplateKinds,
	Check: checkBifrostAppDir,
}

func checkBifrostAppDir(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	for _, ctr := range bifrost.Containers(t) {
		dir, ok := bifrostAppDir(ctr.Container)
		if !ok {
			continue // set from something the manifest does not show
		}
		mount := coveringMount(ctr.VolumeMounts, dir)
		switch {
		case mount == nil:
			c.Reportf(ctr.Path,
				"Bifrost container %q keeps config.db in its app dir %s, but no volume is mounted there, so the store is lost whenever the container restarts; mount a volume (the Bifrost PVC) at %s",
				ctr.Name, dir, dir)
		case mount.ReadOnly || readOnlyVolume(t, mount.Name):
			c.Reportf(ctr.Path,
				"Bifrost container %q has its app dir %s on the read-only volume %q, so it cannot write config.db and fails to start; mount a writable volume there and deliver config.json into it",
				ctr.Name, dir, mount.Name)
		}
		for i, v := range t.Spec.Volumes {
			holder := bifrostConfigHolder(c.Index, obj.Namespace(), v)
			if holder == "" || configReachesAppDir(t, ctr.Container, mount, v.Name, dir) {
				continue
			}
			c.Reportf(t.SpecPath().Child("volumes", i),
				"%s holds Bifrost's config.json but is neither mounted at %s/config.json nor copied there, so container %q starts without it; mount it there with subPath: config.json, or copy it in an initContainer that mounts volumes %q and %s",
				holder, dir, ctr.Name, v.Name, appDirVolume(mount))
		}
	}
}

// bifrostAppDir reads -app-dir from command and args (either -app-dir DIR
// or -app-dir=DIR, one or two dashes, also inside a shell string); the
// last one wins, as with Go's flag package. $(VAR) is expanded from the
// container's literal env values; ok is false when it cannot be.
func bifrostAppDir(ctr *corev1.Container) (string, bool) {
	var tokens []string
	for _, s := range append(append([]string(nil), ctr.Command...), ctr.Args...) {
		tokens = append(tokens, strings.Fields(s)...)
	}
	dir := defaultAppDir
	for i, tok := range tokens {
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
	dir = strings.Trim(dir, `"'`)
	dir, ok := expandEnvRefs(dir, ctr.Env)
	if !ok || !strings.HasPrefix(dir, "/") {
		return "", false
	}
	return path.Clean(dir), true
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

// coveringMount is the mount the path lives on: the deepest mountPath that
// is the path or one of its parents.
func coveringMount(mounts []corev1.VolumeMount, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range mounts {
		m := path.Clean(mounts[i].MountPath)
		if m == p || m == "/" || strings.HasPrefix(p, m+"/") {
			if best == nil || len(m) > len(path.Clean(best.MountPath)) {
				best = &mounts[i]
			}
		}
	}
	return best
}

func readOnlyVolume(t *rules.PodTemplate, name string) bool {
	for _, v := range t.Spec.Volumes {
		if v.Name == name {
			return v.ConfigMap != nil || v.Secret != nil || v.Projected != nil || v.DownwardAPI != nil ||
				(v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly)
		}
	}
	return false
}

// bifrostConfigHolder names the ConfigMap or Secret behind a volume when the
// index shows it holds a Bifrost config, or returns "".
func bifrostConfigHolder(idx rules.Index, ns string, v corev1.Volume) string {
	check := func(o *rules.Object, kind, name string) string {
		if o != nil && len(bifrost.Configs(o)) > 0 {
			return kind + " " + name
		}
		return ""
	}
	switch {
	case v.ConfigMap != nil:
		return check(idx.Get(rules.ConfigMapKind, ns, v.ConfigMap.Name), "ConfigMap", v.ConfigMap.Name)
	case v.Secret != nil:
		return check(idx.Get(rules.SecretKind, ns, v.Secret.SecretName), "Secret", v.Secret.SecretName)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				if h := check(idx.Get(rules.ConfigMapKind, ns, s.ConfigMap.Name), "ConfigMap", s.ConfigMap.Name); h != "" {
					return h
				}
			}
			if s.Secret != nil {
				if h := check(idx.Get(rules.SecretKind, ns, s.Secret.Name), "Secret", s.Secret.Name); h != "" {
					return h
				}
			}
		}
	}
	return ""
}

// configReachesAppDir: the Bifrost container mounts the config volume at
// the app dir or at <app-dir>/config.json, or an initContainer mounting
// both the config volume and the app-dir volume copies config.json.
func configReachesAppDir(t *rules.PodTemplate, bifrost *corev1.Container, appMount *corev1.VolumeMount, configVolume, dir string) bool {
	for _, m := range bifrost.VolumeMounts {
		if m.Name == configVolume {
			if p := path.Clean(m.MountPath); p == dir || p == dir+"/config.json" {
				return true
			}
		}
	}
	if appMount == nil {
		return false
	}
	for _, init := range t.Spec.InitContainers {
		var hasConfig, hasAppDir bool
		for _, m := range init.VolumeMounts {
			hasConfig = hasConfig || m.Name == configVolume
			hasAppDir = hasAppDir || m.Name == appMount.Name
		}
		script := strings.Join(append(append([]string(nil), init.Command...), init.Args...), " ")
		if hasConfig && hasAppDir && strings.Contains(script, "config.json") {
			return true
		}
	}
	return false
}

func appDirVolume(m *corev1.VolumeMount) string {
	if m == nil {
		return "the app-dir volume (none yet)"
	}
	return fmt.Sprintf("%q", m.Name)
}
