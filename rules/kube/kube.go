// Package kube is what gjallar's rules know of Kubernetes itself, beyond
// reading objects: how a container's environment is assembled, which pods a
// selector picks, how volumes attach, how workloads scale and roll out.
package kube

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

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

// ServiceHost splits an in-cluster Service host name (name, name.ns,
// name.ns.svc, name.ns.svc.cluster.local) relative to namespace ns; ok is
// false for other names (an external DNS name, an IP address).
func ServiceHost(host, ns string) (name, svcNS string, ok bool) {
	labels := strings.Split(strings.ToLower(host), ".")
	switch {
	case net.ParseIP(host) != nil:
		return "", "", false
	case len(labels) == 1 && ns != "" && labels[0] != "localhost":
		return labels[0], ns, true
	case len(labels) == 2, len(labels) >= 3 && labels[2] == "svc":
		return labels[0], labels[1], true
	}
	return "", "", false
}

// SelectedWorkloads returns the workloads (every kind with a pod template)
// in the Service's namespace whose pods its selector picks.
func SelectedWorkloads(idx rules.Index, svc *rules.Object) []*rules.Object {
	sel := rules.StringMap(rules.LookupMap(svc.Content, "spec", "selector"))
	if len(sel) == 0 {
		return nil
	}
	var out []*rules.Object
	for _, gk := range rules.PodTemplateKinds {
		for _, w := range idx.List(gk, svc.Namespace()) {
			if t, err := w.PodTemplate(); err == nil && t != nil && Selects(sel, t.Meta.Labels) {
				out = append(out, w)
			}
		}
	}
	return out
}
