package bifrost

import (
	"path"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
)

// A store Bifrost keeps as a SQLite file. With no config_store, Bifrost
// creates <app-dir>/config.db; with no logs_store it uses <app-dir>/logs.db
// (unless a logs store is saved in the config store); `enabled: false`
// turns a store off, and type postgres keeps it in a database
// (transports/bifrost-http/lib/config.go at v1.5.11, lines 714-717 and
// 853-890).
type SQLiteStore struct {
	// File is the database file: a name in the app dir, or an absolute path.
	File string
}

// SQLiteStores lists the stores the config keeps in SQLite files; a nil
// config (none visible) means Bifrost's defaults.
func (c *Config) SQLiteStores() []SQLiteStore {
	var root map[string]any
	if c != nil {
		root = c.Root()
	}
	var out []SQLiteStore
	for _, s := range []struct{ key, file string }{{"config_store", "config.db"}, {"logs_store", "logs.db"}} {
		store, present := root[s.key].(map[string]any)
		switch {
		case !present:
			out = append(out, SQLiteStore{File: s.file})
		case store["enabled"] == false:
		case rules.LookupString(store, "type") == "sqlite":
			file := rules.LookupString(store, "config", "path")
			if file == "" {
				file = s.file
			}
			out = append(out, SQLiteStore{File: file})
		}
	}
	return out
}

// PodConfigs returns the Bifrost configs in the ConfigMaps and Secrets a pod
// template's volumes bring, with the volume each came through.
func PodConfigs(idx rules.Index, ns string, t *rules.PodTemplate) []PodConfig {
	var out []PodConfig
	add := func(o *rules.Object, kind, name string, v corev1.Volume) {
		if o == nil {
			return
		}
		for _, cfg := range Configs(o) {
			out = append(out, PodConfig{Config: cfg, Volume: v.Name, Holder: kind + " " + name})
		}
	}
	for _, v := range t.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add(idx.Get(rules.ConfigMapKind, ns, v.ConfigMap.Name), "ConfigMap", v.ConfigMap.Name, v)
		case v.Secret != nil:
			add(idx.Get(rules.SecretKind, ns, v.Secret.SecretName), "Secret", v.Secret.SecretName, v)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(idx.Get(rules.ConfigMapKind, ns, s.ConfigMap.Name), "ConfigMap", s.ConfigMap.Name, v)
				}
				if s.Secret != nil {
					add(idx.Get(rules.SecretKind, ns, s.Secret.Name), "Secret", s.Secret.Name, v)
				}
			}
		}
	}
	return out
}

// PodConfig is a Bifrost config a pod's volume brings.
type PodConfig struct {
	*Config
	Volume string // the pod volume
	Holder string // "ConfigMap name" or "Secret name"
}

// StoreDir is where a SQLite store's file lives for an app dir.
func (s SQLiteStore) StoreDir(appDir string) string {
	if path.IsAbs(s.File) {
		return path.Dir(path.Clean(s.File))
	}
	return path.Dir(path.Join(appDir, s.File))
}
