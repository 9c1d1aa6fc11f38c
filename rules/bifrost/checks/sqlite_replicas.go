package checks

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// BifrostSQLiteReplicas catches several Bifrost pods on SQLite stores.
var BifrostSQLiteReplicas = &rules.Rule{
	ID:       "bifrost-sqlite-replicas",
	Summary:  "More than one Bifrost pod must keep its config store in Postgres, not SQLite",
	Severity: rules.Error,
	Rationale: "Bifrost keeps what is changed through its UI and API (providers, keys, virtual keys, " +
		"governance) in its config store, SQLite `config.db` in the app dir unless config_store says " +
		"postgres or is disabled (maximhq/bifrost transports/bifrost-http/lib/config.go at v1.5.11). " +
		"With more than one pod, each has its own SQLite file (or they share one over a network volume, " +
		"which SQLite does not support), so a change made through one pod never reaches the others and " +
		"they serve different configurations. Bifrost's own Helm chart runs SQLite as a single-pod " +
		"StatefulSet and uses Postgres for more replicas (helm-charts/bifrost). Checked on Deployments " +
		"and StatefulSets running Bifrost with more than one replica, or an autoscaler whose maxReplicas " +
		"is above 1, whose config keeps the config store in SQLite, or that mount no config at all " +
		"(Bifrost's default); a config in a ConfigMap or Secret not in the input is not judged.",
	Kinds: []schema.GroupKind{rules.DeploymentKind, rules.StatefulSetKind},
	Check: checkSQLiteReplicas,
}

func checkSQLiteReplicas(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil || len(bifrost.Containers(t)) == 0 {
		return
	}
	replicas := int64(1)
	if n, ok := rules.AsInt(rules.LookupMap(obj.Content, "spec")["replicas"]); ok {
		replicas = n
	}
	at, how := rules.P("spec", "replicas"), fmt.Sprintf("%d replicas", replicas)
	if replicas <= 1 {
		hpa, maxReplicas := kube.ScalingAutoscaler(c.Index, obj)
		if maxReplicas <= 1 {
			return
		}
		at, how = t.Path, fmt.Sprintf("up to %d replicas (HorizontalPodAutoscaler %s)", maxReplicas, hpa)
	}
	configs := bifrost.PodConfigs(c.Index, obj.Namespace(), t)
	if len(configs) == 0 && mountsUnseenConfig(c.Index, obj.Namespace(), t) {
		return // the config may live elsewhere
	}
	store := "Bifrost's default config store, SQLite"
	for _, pc := range configs {
		cs, present := pc.Root()["config_store"].(map[string]any)
		switch {
		case present && (cs["enabled"] == false || rules.LookupString(cs, "type") == "postgres"):
			return
		case present:
			store = fmt.Sprintf("the SQLite config store of %s", pc.Holder)
		}
	}
	c.Reportf(at,
		"%s of Bifrost run on %s, so each pod keeps its own config.db and a change made through one pod's UI or API never reaches the others; set config_store (and logs_store) to postgres, or run one pod",
		how, store)
}

// mountsUnseenConfig: a ConfigMap or Secret volume whose object is not in
// the index, which could hold the config.
func mountsUnseenConfig(idx rules.Index, ns string, t *rules.PodTemplate) bool {
	for _, v := range t.Spec.Volumes {
		switch {
		case v.ConfigMap != nil && idx.Get(rules.ConfigMapKind, ns, v.ConfigMap.Name) == nil:
			return true
		case v.Secret != nil && idx.Get(rules.SecretKind, ns, v.Secret.SecretName) == nil:
			return true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if (s.ConfigMap != nil && idx.Get(rules.ConfigMapKind, ns, s.ConfigMap.Name) == nil) ||
					(s.Secret != nil && idx.Get(rules.SecretKind, ns, s.Secret.Name) == nil) {
					return true
				}
			}
		}
	}
	return false
}
