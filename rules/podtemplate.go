package rules

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kinds that carry a pod template, with where the template lives.
var (
	PodKind         = schema.GroupKind{Kind: "Pod"}
	DeploymentKind  = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	StatefulSetKind = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	DaemonSetKind   = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	ReplicaSetKind  = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
	JobKind         = schema.GroupKind{Group: "batch", Kind: "Job"}
	CronJobKind     = schema.GroupKind{Group: "batch", Kind: "CronJob"}

	ConfigMapKind               = schema.GroupKind{Kind: "ConfigMap"}
	SecretKind                  = schema.GroupKind{Kind: "Secret"}
	ServiceKind                 = schema.GroupKind{Kind: "Service"}
	NamespaceKind               = schema.GroupKind{Kind: "Namespace"}
	PersistentVolumeClaimKind   = schema.GroupKind{Kind: "PersistentVolumeClaim"}
	HorizontalPodAutoscalerKind = schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
)

var podTemplatePaths = map[schema.GroupKind]Path{
	PodKind:         {},
	DeploymentKind:  {"spec", "template"},
	StatefulSetKind: {"spec", "template"},
	DaemonSetKind:   {"spec", "template"},
	ReplicaSetKind:  {"spec", "template"},
	JobKind:         {"spec", "template"},
	CronJobKind:     {"spec", "jobTemplate", "spec", "template"},
}

// PodTemplatePath is where a kind's pod template lives; ok is false for
// kinds without one.
func PodTemplatePath(gk schema.GroupKind) (p Path, ok bool) {
	p, ok = podTemplatePaths[gk]
	return p, ok
}

// PodTemplateKinds lists every kind with a pod template.
var PodTemplateKinds = []schema.GroupKind{PodKind, DeploymentKind, StatefulSetKind, DaemonSetKind, ReplicaSetKind, JobKind, CronJobKind}

// RolloutKinds are the workloads whose pods roll when the pod template
// changes.
var RolloutKinds = []schema.GroupKind{DeploymentKind, StatefulSetKind, DaemonSetKind}

// PodTemplate is the typed pod template of a workload (or the Pod itself).
type PodTemplate struct {
	// Path is where the template lives in the object; a Pod's is empty.
	Path Path
	Meta struct {
		Labels      map[string]string
		Annotations map[string]string
	}
	Spec corev1.PodSpec
	// ClaimTemplates are a StatefulSet's volumeClaimTemplates.
	ClaimTemplates []corev1.PersistentVolumeClaim
}

// SpecPath is the path of the pod spec inside the object.
func (t *PodTemplate) SpecPath() Path { return t.Path.Child("spec") }

// PodTemplate decodes the object's pod template into typed form, once. It
// returns nil, nil for kinds without one.
func (o *Object) PodTemplate() (*PodTemplate, error) {
	o.podOnce.Do(func() { o.pod, o.podErr = o.decodePodTemplate() })
	return o.pod, o.podErr
}

func (o *Object) decodePodTemplate() (*PodTemplate, error) {
	path, ok := podTemplatePaths[o.gk]
	if !ok {
		return nil, nil
	}
	raw, _ := Lookup(o.Content, path)
	tmpl, _ := raw.(map[string]any)
	if tmpl == nil {
		return nil, nil
	}
	t := &PodTemplate{Path: path}
	if spec, ok := tmpl["spec"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &t.Spec); err != nil {
			return nil, fmt.Errorf("%s does not decode: %s", t.SpecPath(), shortConvertError(err))
		}
	}
	t.Meta.Labels = StringMap(LookupMap(tmpl, "metadata", "labels"))
	t.Meta.Annotations = StringMap(LookupMap(tmpl, "metadata", "annotations"))
	if o.gk == StatefulSetKind {
		if claims := LookupList(o.Content, "spec", "volumeClaimTemplates"); claims != nil {
			wrapped := map[string]any{"items": claims}
			var list corev1.PersistentVolumeClaimList
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(wrapped, &list); err != nil {
				return nil, fmt.Errorf("spec.volumeClaimTemplates does not decode: %s", shortConvertError(err))
			}
			t.ClaimTemplates = list.Items
		}
	}
	return t, nil
}

// shortConvertError drops the converter's Go type names, which mean nothing
// to someone writing YAML.
func shortConvertError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg[:i], "unrecognized type") {
		return msg[i+2:]
	}
	return msg
}

// Containers lists a pod spec's init and regular containers with their paths.
func (t *PodTemplate) Containers() []ContainerAt {
	var out []ContainerAt
	for i := range t.Spec.InitContainers {
		out = append(out, ContainerAt{Container: &t.Spec.InitContainers[i], Path: t.SpecPath().Child("initContainers", i), Init: true})
	}
	for i := range t.Spec.Containers {
		out = append(out, ContainerAt{Container: &t.Spec.Containers[i], Path: t.SpecPath().Child("containers", i)})
	}
	return out
}

// ContainerAt is a container with its place in the object.
type ContainerAt struct {
	*corev1.Container
	Path Path
	Init bool
}

// ConfigMapRefs lists the ConfigMaps a pod spec reads, each once, in order
// of first reference, with whether every reference is optional.
func (t *PodTemplate) ConfigMapRefs() []ConfigMapRef {
	var out []ConfigMapRef
	seen := map[string]int{}
	add := func(name string, optional *bool, at Path) {
		if name == "" {
			return
		}
		opt := optional != nil && *optional
		if i, ok := seen[name]; ok {
			out[i].Optional = out[i].Optional && opt
			return
		}
		seen[name] = len(out)
		out = append(out, ConfigMapRef{Name: name, Optional: opt, Path: at})
	}
	spec := t.SpecPath()
	for i, v := range t.Spec.Volumes {
		if v.ConfigMap != nil {
			add(v.ConfigMap.Name, v.ConfigMap.Optional, spec.Child("volumes", i))
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add(s.ConfigMap.Name, s.ConfigMap.Optional, spec.Child("volumes", i))
				}
			}
		}
	}
	for _, c := range t.Containers() {
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				add(ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional, c.Path)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				add(e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Optional, c.Path)
			}
		}
	}
	return out
}

// ConfigMapRef is one ConfigMap a pod template reads.
type ConfigMapRef struct {
	Name     string
	Optional bool
	Path     Path // the volume or container that references it
}
