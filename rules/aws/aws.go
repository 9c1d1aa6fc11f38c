// Package aws is what gjallar's rules know of AWS load balancers in front
// of the stack: the AWS Load Balancer Controller's annotations and the
// settings a Service, a Gateway or kgateway's GatewayParameters give the
// load balancer made for them.
package aws

import (
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// AWS Load Balancer Controller annotations.
const (
	AnnotationScheme         = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	AnnotationPrefixLists    = "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists"
	AnnotationSecurityGroups = "service.beta.kubernetes.io/aws-load-balancer-security-groups"
	AnnotationSourceRanges   = "service.beta.kubernetes.io/load-balancer-source-ranges"
)

// Setting is one annotation or source range with where it was written.
type Setting struct {
	Value string
	Path  rules.Path
	Own   bool // written on the object being checked, not inherited
}

// LoadBalancer is what the manifests say about the load balancer an
// object asks for.
type LoadBalancer struct {
	Annotations map[string]Setting
	Ranges      []Setting
}

func (v *LoadBalancer) addAnnotations(m map[string]any, at rules.Path, own bool) {
	for k, val := range m {
		if s, ok := val.(string); ok {
			v.Annotations[k] = Setting{Value: s, Path: at.Child(k), Own: own}
		}
	}
}

func (v *LoadBalancer) addRanges(list []any, at rules.Path) {
	for i, r := range list {
		if s, ok := r.(string); ok {
			v.Ranges = append(v.Ranges, Setting{Value: s, Path: at.Child(i), Own: true})
		}
	}
}

// LoadBalancerOf reads the load balancer settings of a Service, a kgateway
// GatewayParameters or a Gateway (with the GatewayParameters that shape its
// Service); nil when the object asks for no load balancer.
func LoadBalancerOf(idx rules.Index, obj *rules.Object) *LoadBalancer {
	v := &LoadBalancer{Annotations: map[string]Setting{}}
	switch obj.GroupKind() {
	case rules.ServiceKind:
		if rules.LookupString(obj.Content, "spec", "type") != "LoadBalancer" {
			return nil // a ClusterIP Service's LB annotations do nothing
		}
		v.addAnnotations(rules.LookupMap(obj.Content, "metadata", "annotations"), rules.P("metadata", "annotations"), true)
		v.addRanges(rules.LookupList(obj.Content, "spec", "loadBalancerSourceRanges"), rules.P("spec", "loadBalancerSourceRanges"))
	case gateway.GatewayParametersKind:
		svc := rules.LookupMap(obj.Content, "spec", "kube", "service")
		if t := rules.LookupString(svc, "type"); t != "" && t != "LoadBalancer" {
			return nil
		}
		at := rules.P("spec", "kube", "service")
		v.addAnnotations(rules.LookupMap(svc, "extraAnnotations"), at.Child("extraAnnotations"), true)
		v.addRanges(rules.LookupList(svc, "loadBalancerSourceRanges"), at.Child("loadBalancerSourceRanges"))
	case gateway.GatewayKind:
		for _, gp := range gateway.GatewayParameters(idx, obj) {
			svc := rules.LookupMap(gp.Content, "spec", "kube", "service")
			if t := rules.LookupString(svc, "type"); t != "" && t != "LoadBalancer" {
				return nil
			}
			v.addAnnotations(rules.LookupMap(svc, "extraAnnotations"), nil, false)
			for _, r := range rules.LookupList(svc, "loadBalancerSourceRanges") {
				if s, ok := r.(string); ok {
					v.Ranges = append(v.Ranges, Setting{Value: s})
				}
			}
		}
		v.addAnnotations(rules.LookupMap(obj.Content, "metadata", "annotations"), rules.P("metadata", "annotations"), true)
		v.addAnnotations(rules.LookupMap(obj.Content, "spec", "infrastructure", "annotations"), rules.P("spec", "infrastructure", "annotations"), true)
	default:
		return nil
	}
	return v
}

// SplitList splits a comma-separated annotation value.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
