// Package kube is what gjallar's rules know of Kubernetes itself, beyond
// reading objects: how a container's environment is assembled, which pods a
// selector picks, how volumes attach, how workloads scale and roll out.
package kube

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/gjallar-dev/gjallar/rules"
)

// EnvVar is one environment variable a container sees, with where it was
// set and, for values read from a ConfigMap, a note saying which.
type EnvVar struct {
	Name, Value string
	// Origin is "" for a literal value, else " (from ConfigMap x key y)".
	Origin string
	Path   rules.Path
}

// ContainerEnv resolves a container's environment as far as the manifests
// show it: literal values, ConfigMap keys and envFrom ConfigMaps found in
// the index. Later entries win, as in the kubelet.
func ContainerEnv(idx rules.Index, ns string, ctr rules.ContainerAt) []EnvVar {
	byName := map[string]int{}
	var out []EnvVar
	set := func(e EnvVar) {
		if i, ok := byName[e.Name]; ok {
			out[i] = e
			return
		}
		byName[e.Name] = len(out)
		out = append(out, e)
	}
	for i, ef := range ctr.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		cm := idx.Get(rules.ConfigMapKind, ns, ef.ConfigMapRef.Name)
		if cm == nil {
			continue
		}
		data := rules.LookupMap(cm.Content, "data")
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if s, ok := data[k].(string); ok {
				set(EnvVar{Name: ef.Prefix + k, Value: s, Path: ctr.Path.Child("envFrom", i),
					Origin: fmt.Sprintf(" (from ConfigMap %s)", ef.ConfigMapRef.Name)})
			}
		}
	}
	for i, e := range ctr.Env {
		ev := EnvVar{Name: e.Name, Value: e.Value, Path: ctr.Path.Child("env", i, "value")}
		if e.ValueFrom != nil {
			ev.Path = ctr.Path.Child("env", i)
			ev.Value = ""
			if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
				ev.Value = configMapKey(idx, ns, ref)
				ev.Origin = fmt.Sprintf(" (from ConfigMap %s key %s)", ref.Name, ref.Key)
			}
		}
		set(ev)
	}
	return out
}

func configMapKey(idx rules.Index, ns string, ref *corev1.ConfigMapKeySelector) string {
	cm := idx.Get(rules.ConfigMapKind, ns, ref.Name)
	if cm == nil {
		return ""
	}
	return rules.LookupString(cm.Content, "data", ref.Key)
}

// Selects reports whether an equality selector (a Service's spec.selector)
// matches labels; an empty selector matches nothing here, as a Service
// without one selects no pods.
func Selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
