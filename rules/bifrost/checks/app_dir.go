package checks

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostAppDir checks that Bifrost's app dir is a volume where it keeps a
// store there, and that the config it is given actually lands there.
var BifrostAppDir = &rules.Rule{
	ID:       "bifrost-app-dir",
	Summary:  "Bifrost's app dir must be a writable volume where it keeps SQLite stores, and must receive the config.json from its ConfigMap",
	Severity: rules.Warning,
	Rationale: "Bifrost reads `<app-dir>/config.json` and, unless config_store and logs_store say " +
		"otherwise (Postgres, or `enabled: false`), keeps its SQLite stores config.db and logs.db " +
		"next to it (maximhq/bifrost transports/bifrost-http/lib/config.go at v1.5.11). The official " +
		"image's entrypoint always starts `/app/main -app-dir \"$APP_DIR\"`, so the app dir is the " +
		"APP_DIR environment variable (default /app/data); `-app-dir` in the container's args is not " +
		"passed on (transports/docker-entrypoint.sh; bifrost-image-args reports such args). Only a " +
		"`command` that runs /app/main itself makes `-app-dir` count. Without a volume at the app dir " +
		"the SQLite stores live in the container's own filesystem and are lost whenever it restarts " +
		"(what was changed in the UI, the request logs); a read-only volume there (a ConfigMap) leaves " +
		"Bifrost unable to create them. A config whose stores are all Postgres keeps nothing there to " +
		"lose. A ConfigMap (or Secret) holding the config only takes effect if it reaches the app dir: " +
		"mounted at `<app-dir>/config.json` (subPath, as Bifrost's own Helm chart does), or copied there " +
		"by an initContainer that mounts both the config volume and the app-dir volume (the runbook's " +
		"`cp /config/config.json /app/data/config.json`). Mounted anywhere else, Bifrost starts without it; " +
		"a container that names its config file itself (BIFROST_CONFIG, as Bifrost's enterprise " +
		"clustering docs do) is not judged on that.",
	Kinds: rules.PodTemplateKinds,
	Check: checkBifrostAppDir,
}

func checkBifrostAppDir(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	configs := bifrost.PodConfigs(c.Index, obj.Namespace(), t)
	for _, ctr := range bifrost.Containers(t) {
		dir, how, ok := ctr.AppDir()
		if !ok {
			continue // set from something the manifest does not show
		}
		mount := coveringMount(ctr.VolumeMounts, dir)
		if files := sqliteFilesIn(configs, dir); len(files) > 0 {
			switch {
			case mount == nil:
				c.Reportf(ctr.Path,
					"Bifrost container %q keeps its SQLite stores (%s) in its app dir %s (%s), but no volume is mounted there, so they are lost whenever the container restarts; mount a volume (the Bifrost PVC) at %s, or keep the stores in Postgres",
					ctr.Name, strings.Join(files, ", "), dir, how, dir)
			case mount.ReadOnly || readOnlyVolume(t, mount.Name):
				c.Reportf(ctr.Path,
					"Bifrost container %q has its app dir %s (%s) on the read-only volume %q, so it cannot create its SQLite stores (%s) and fails to start; mount a writable volume there and deliver config.json into it",
					ctr.Name, dir, how, mount.Name, strings.Join(files, ", "))
			}
		}
		if readsConfigElsewhere(ctr) {
			continue
		}
		for i, v := range t.Spec.Volumes {
			holder := configHolder(configs, v.Name)
			if holder == "" || configReachesAppDir(t, ctr.Container, mount, v.Name, dir) {
				continue
			}
			c.Reportf(t.SpecPath().Child("volumes", i),
				"%s holds Bifrost's config.json but is neither mounted at %s/config.json nor copied there, so container %q starts without it; mount it there with subPath: config.json, or copy it in an initContainer that mounts volumes %q and %s",
				holder, dir, ctr.Name, v.Name, appDirVolume(mount, v.Name))
		}
	}
}

// readsConfigElsewhere: the container names its config file's path itself
// (BIFROST_CONFIG, which Bifrost's enterprise clustering docs set), so
// where the config must be mounted is not the app dir's business.
func readsConfigElsewhere(ctr bifrost.Container) bool {
	for _, e := range ctr.Env {
		if e.Name == "BIFROST_CONFIG" {
			return true
		}
	}
	return false
}

// sqliteFilesIn names the SQLite files the pod's configs keep in dir; with
// no config visible, Bifrost's defaults (config.db and logs.db) apply.
func sqliteFilesIn(configs []bifrost.PodConfig, dir string) []string {
	var stores []bifrost.SQLiteStore
	if len(configs) == 0 {
		stores = (*bifrost.Config)(nil).SQLiteStores()
	}
	for _, pc := range configs {
		stores = append(stores, pc.SQLiteStores()...)
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range stores {
		if s.StoreDir(dir) == dir && !seen[s.File] {
			seen[s.File] = true
			out = append(out, path.Base(s.File))
		}
	}
	return out
}

// configHolder names the ConfigMap or Secret behind a volume when it holds
// a Bifrost config, or returns "".
func configHolder(configs []bifrost.PodConfig, volume string) string {
	for _, pc := range configs {
		if pc.Volume == volume {
			return pc.Holder
		}
	}
	return ""
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

// configReachesAppDir: the Bifrost container mounts the config volume at
// the app dir or at <app-dir>/config.json, or an initContainer mounting
// both the config volume and the app-dir volume copies config.json.
func configReachesAppDir(t *rules.PodTemplate, ctr *corev1.Container, appMount *corev1.VolumeMount, configVolume, dir string) bool {
	for _, m := range ctr.VolumeMounts {
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

func appDirVolume(m *corev1.VolumeMount, configVolume string) string {
	if m == nil || m.Name == configVolume {
		return "a writable app-dir volume (none yet)"
	}
	return fmt.Sprintf("%q", m.Name)
}
