package aws

import (
	"slices"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// LoadBalancerOf reads the load balancer a Service, a kgateway
// GatewayParameters or a kgateway Gateway asks for; nil when the object
// asks for none, or is a Gateway kgateway does not serve.
func LoadBalancerOf(idx rules.Index, obj *rules.Object) *LoadBalancer {
	lb := &LoadBalancer{Annotations: map[string]Setting{}, Own: true}
	var class Setting
	switch obj.GroupKind() {
	case rules.ServiceKind:
		if rules.LookupString(obj.Content, "spec", "type") != "LoadBalancer" {
			return nil // a ClusterIP Service's LB annotations do nothing
		}
		lb.At = rules.P("spec", "type")
		lb.addAnnotations(rules.LookupMap(obj.Content, "metadata", "annotations"), rules.P("metadata", "annotations"), true)
		lb.setRanges(rules.LookupList(obj.Content, "spec", "loadBalancerSourceRanges"), rules.P("spec", "loadBalancerSourceRanges"), true)
		lb.Ports = servicePorts(rules.LookupList(obj.Content, "spec", "ports"))
		if c := rules.LookupString(obj.Content, "spec", "loadBalancerClass"); c != "" {
			class = Setting{Value: c, Path: rules.P("spec", "loadBalancerClass"), Own: true}
		}
	case gateway.GatewayParametersKind:
		if selfManaged(obj) {
			return nil
		}
		svc := rules.LookupMap(obj.Content, "spec", "kube", "service")
		if t := rules.LookupString(svc, "type"); t != "" && t != "LoadBalancer" {
			return nil
		}
		at := rules.P("spec", "kube", "service")
		lb.At = at
		if _, ok := svc["type"]; ok {
			lb.At = at.Child("type")
		}
		class = applyServiceSettings(lb, svc, at, true)
	case gateway.GatewayKind:
		if !gateway.ServedByKgateway(idx, obj) {
			return nil
		}
		lb.At = rules.P("spec", "gatewayClassName")
		lb.Own = false
		typ := "LoadBalancer"
		for _, gp := range gateway.GatewayParameters(idx, obj) {
			if selfManaged(gp) {
				return nil
			}
			svc := rules.LookupMap(gp.Content, "spec", "kube", "service")
			if t := rules.LookupString(svc, "type"); t != "" {
				typ = t // the Gateway's own parameters, merged last, win
			}
			if c := applyServiceSettings(lb, svc, nil, false); c.Value != "" {
				class = c
			}
		}
		if typ != "LoadBalancer" {
			return nil
		}
		infra := rules.LookupMap(obj.Content, "spec", "infrastructure", "annotations")
		lb.addAnnotations(infra, rules.P("spec", "infrastructure", "annotations"), true)
		// The Gateway decides when it writes annotations itself or when no
		// GatewayParameters does: kgateway's default Service.
		lb.Own = len(infra) > 0 || len(gateway.GatewayParameters(idx, obj)) == 0
		for _, l := range rules.LookupList(obj.Content, "spec", "listeners") {
			if n, ok := rules.AsInt(rules.LookupMap(l)["port"]); ok && !slices.Contains(lb.Ports, n) {
				lb.Ports = append(lb.Ports, n)
			}
		}
	default:
		return nil
	}
	lb.finish(class)
	return lb
}

// selfManaged: kgateway provisions no proxy, so no Service, for a Gateway
// whose GatewayParameters say spec.selfManaged (v2.3.0
// api/v1alpha1/kgateway/gateway_parameters_types.go).
func selfManaged(gp *rules.Object) bool {
	_, ok := rules.LookupMap(gp.Content, "spec")["selfManaged"]
	return ok
}

// applyServiceSettings adds a GatewayParameters' spec.kube.service
// settings: extraAnnotations, and from kgateway v2.3.0 loadBalancerClass
// and loadBalancerSourceRanges (v2.3.0 api/v1alpha1/kgateway/kube_types.go
// Service). It returns the class it sets.
func applyServiceSettings(lb *LoadBalancer, svc map[string]any, at rules.Path, own bool) Setting {
	child := func(name string) rules.Path {
		if at == nil {
			return nil
		}
		return at.Child(name)
	}
	lb.addAnnotations(rules.LookupMap(svc, "extraAnnotations"), child("extraAnnotations"), own)
	lb.setRanges(rules.LookupList(svc, "loadBalancerSourceRanges"), child("loadBalancerSourceRanges"), own)
	if c := rules.LookupString(svc, "loadBalancerClass"); c != "" {
		return Setting{Value: c, Path: child("loadBalancerClass"), Own: own}
	}
	return Setting{}
}

// IgnoredGatewayAnnotations lists load-balancer annotations written in a
// kgateway Gateway's metadata.annotations, which kgateway never copies to
// the Service it creates (only spec.infrastructure.annotations, from
// v2.2.0, and GatewayParameters' extraAnnotations).
func IgnoredGatewayAnnotations(idx rules.Index, gw *rules.Object) []Setting {
	if gw.GroupKind() != gateway.GatewayKind || !gateway.MeantForKgateway(idx, gw) {
		return nil
	}
	var out []Setting
	for k, v := range rules.LookupMap(gw.Content, "metadata", "annotations") {
		s, ok := v.(string)
		if ok && isLoadBalancerAnnotation(k) {
			out = append(out, Setting{Value: s, Path: rules.P("metadata", "annotations", k), Own: true})
		}
	}
	slices.SortFunc(out, func(a, b Setting) int { return slices.Compare(a.Path, b.Path) })
	return out
}

func isLoadBalancerAnnotation(k string) bool {
	for _, p := range []string{"service.beta.kubernetes.io/aws-load-balancer-", "service.kubernetes.io/aws-load-balancer-", AnnotationSourceRanges} {
		if len(k) >= len(p) && k[:len(p)] == p {
			return true
		}
	}
	return false
}
