package checks

import (
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostEnvRefs catches env.NAME references the Bifrost container does
// not define.
var BifrostEnvRefs = &rules.Rule{
	ID:       "bifrost-env-refs",
	Summary:  "Every env.NAME in a Bifrost config must be defined in the Bifrost container's env or envFrom",
	Severity: rules.Error,
	Rationale: "Bifrost resolves a config value written `env.NAME` (provider keys, key configs, " +
		"encryption_key, store and vector-store credentials, MCP and otel settings) from its own " +
		"environment when it loads config.json, and reads a variable that is not set as empty, without " +
		"an error: the key is empty and requests fail with the provider's 401 or \"no keys found\" " +
		"(maximhq/bifrost core/schemas/envvar.go at v1.5.11). In otel plugin headers an unset variable " +
		"fails the whole otel plugin (\"environment variable ... not found\", plugins/otel/utils.go), so " +
		"no trace is exported. Checked on workloads running Bifrost against the configs their volumes " +
		"bring: each name must be set by the container's env, or by an envFrom ConfigMap or Secret that " +
		"holds it; when an envFrom source is not visible (another repository, the cluster's Secrets), " +
		"names it could provide are not judged. Messages name variables, never values.",
	Kinds: rules.PodTemplateKinds,
	Check: checkEnvRefs,
}

func checkEnvRefs(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	configs := bifrost.PodConfigs(c.Index, obj.Namespace(), t)
	if len(configs) == 0 {
		return
	}
	for _, ctr := range bifrost.Containers(t) {
		defined, complete := containerEnvNames(c.Index, obj.Namespace(), ctr)
		seen := map[string]bool{}
		for _, pc := range configs {
			for _, ref := range pc.EnvRefs() {
				if defined[ref.Name] || !complete || seen[ref.Name] {
					continue
				}
				seen[ref.Name] = true
				effect := "Bifrost reads it as empty"
				if ref.InOtelHeaders() {
					effect = "the otel plugin fails to start and exports no trace"
				}
				c.Reportf(ctr.Path,
					"%s references env.%s (at %s), but container %q defines no %s in env or envFrom, so %s; add it to the container's env (from a Secret for a credential)",
					pc.Holder, ref.Name, configPlace(pc, ref.Path), ctr.Name, ref.Name, effect)
			}
		}
	}
}

func configPlace(pc bifrost.PodConfig, at rules.Path) string {
	where := at.String()
	if len(pc.Path) > 0 {
		where = pc.Path.String() + ":" + where
	}
	return where
}

// containerEnvNames lists the variables a container sets; complete is false
// when an envFrom source is not in the index, so any name might come from it.
func containerEnvNames(idx rules.Index, ns string, ctr bifrost.Container) (names map[string]bool, complete bool) {
	names = map[string]bool{}
	complete = true
	for _, e := range ctr.Env {
		names[e.Name] = true
	}
	for _, ef := range ctr.EnvFrom {
		var src *rules.Object
		var fields []string
		switch {
		case ef.ConfigMapRef != nil:
			src = idx.Get(rules.ConfigMapKind, ns, ef.ConfigMapRef.Name)
			fields = []string{"data", "binaryData"}
		case ef.SecretRef != nil:
			src = idx.Get(rules.SecretKind, ns, ef.SecretRef.Name)
			fields = []string{"data", "stringData"}
		default:
			continue
		}
		if src == nil {
			complete = false
			continue
		}
		for _, f := range fields {
			for k := range rules.LookupMap(src.Content, f) {
				names[ef.Prefix+k] = true
			}
		}
	}
	return names, complete
}
