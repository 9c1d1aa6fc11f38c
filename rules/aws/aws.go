// Package aws is what gjallar's rules know of the AWS load balancers in
// front of the stack: which controller makes the load balancer for a
// Service (the AWS Load Balancer Controller, or the legacy cloud provider),
// how exposed it is (scheme, security groups, prefix lists, source ranges),
// what kgateway copies from a Gateway and its GatewayParameters onto the
// Service it creates, and the controller's own Gateway API configuration.
//
// Facts are from kubernetes-sigs/aws-load-balancer-controller v3.5.0
// (pkg/service/service_utils.go IsServiceSupported,
// model_build_load_balancer.go, model_build_managed_sg.go,
// pkg/gateway/model/model_build_security_group.go), kubernetes/
// cloud-provider-aws v1.36.1 (pkg/providers/v1/aws.go EnsureLoadBalancer)
// and kgateway v2.0.0 to v2.3.0 (pkg/kgateway/deployer).
package aws

import (
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// Service annotations, read with the service.beta.kubernetes.io/ prefix
// (the controller also reads service.kubernetes.io/).
const (
	AnnotationScheme         = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	AnnotationInternal       = "service.beta.kubernetes.io/aws-load-balancer-internal"
	AnnotationType           = "service.beta.kubernetes.io/aws-load-balancer-type"
	AnnotationTargetType     = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	AnnotationPrefixLists    = "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists"
	AnnotationSecurityGroups = "service.beta.kubernetes.io/aws-load-balancer-security-groups"
	AnnotationDisableNLBSG   = "service.beta.kubernetes.io/aws-load-balancer-disable-nlb-sg"
	AnnotationIPAddressType  = "service.beta.kubernetes.io/aws-load-balancer-ip-address-type"
	AnnotationSourceRanges   = "service.beta.kubernetes.io/load-balancer-source-ranges"
)

// LBCClass is the loadBalancerClass the AWS Load Balancer Controller
// claims by default (its --load-balancer-class flag).
const LBCClass = "service.k8s.aws/nlb"

// Controller says who makes a Service's load balancer.
type Controller int

const (
	// LBC: the AWS Load Balancer Controller (loadBalancerClass
	// service.k8s.aws/nlb, or no class and aws-load-balancer-type nlb-ip, or
	// external with nlb-target-type ip or instance).
	LBC Controller = iota
	// Unclaimed: no class and none of those annotations. The legacy cloud
	// provider makes an internet-facing Classic ELB for it, reading only
	// aws-load-balancer-internal, unless the AWS Load Balancer Controller's
	// Service webhook (on by default in its Helm chart since v2.5.0) gives
	// it the class on creation, which makes it an NLB of that controller.
	Unclaimed
	// Other: a loadBalancerClass of another controller.
	Other
)

// Setting is one annotation, field or source range with where it was
// written.
type Setting struct {
	Value string
	Path  rules.Path
	Own   bool // written on the object being checked, not inherited
}

// LoadBalancer is what the manifests say about the load balancer an object
// asks for.
type LoadBalancer struct {
	Controller  Controller
	Annotations map[string]Setting
	// Ranges are the source ranges that apply: spec.loadBalancerSourceRanges,
	// else the annotation (the controller reads it only when the field is
	// empty).
	Ranges []Setting
	// Ports are the listener ports; each gets its own security group rules.
	Ports []int64
	// At is where a finding about the load balancer as a whole points.
	At rules.Path
	// Own is set when the object being checked decides the load balancer
	// (a Service; a Gateway only for what it writes itself), so a
	// GatewayParameters shared by many Gateways is judged once.
	Own bool
}

// Annotation returns a setting by its service.beta.kubernetes.io name,
// also accepting the service.kubernetes.io spelling.
func (lb *LoadBalancer) Annotation(name string) (Setting, bool) {
	if s, ok := lb.Annotations[name]; ok {
		return s, true
	}
	s, ok := lb.Annotations[strings.Replace(name, "service.beta.kubernetes.io/", "service.kubernetes.io/", 1)]
	return s, ok
}

// LBCScheme is the scheme the AWS Load Balancer Controller gives the load
// balancer: aws-load-balancer-scheme exactly "internet-facing" or
// "internal", else aws-load-balancer-internal ("false" means
// internet-facing), else its default, internal. at is where it was decided.
func (lb *LoadBalancer) LBCScheme() (internetFacing bool, at Setting) {
	if s, ok := lb.Annotation(AnnotationScheme); ok {
		return s.Value == "internet-facing", s
	}
	if s, ok := lb.Annotation(AnnotationInternal); ok {
		return strings.EqualFold(strings.TrimSpace(s.Value), "false"), s
	}
	return false, Setting{Path: lb.At, Own: lb.Own}
}

// LegacyInternetFacing: the legacy cloud provider makes an internal load
// balancer only when aws-load-balancer-internal is set to anything but
// "false"; it ignores the scheme and prefix-list annotations.
func (lb *LoadBalancer) LegacyInternetFacing() bool {
	s, ok := lb.Annotation(AnnotationInternal)
	return !ok || s.Value == "" || strings.EqualFold(s.Value, "false")
}

// PrefixLists are the security-group prefix-list ids the load balancer
// admits.
func (lb *LoadBalancer) PrefixLists() (Setting, []string) {
	s, _ := lb.Annotation(AnnotationPrefixLists)
	return s, SplitList(s.Value)
}

func (lb *LoadBalancer) addAnnotations(m map[string]any, at rules.Path, own bool) {
	for k, val := range m {
		if s, ok := val.(string); ok {
			var p rules.Path
			if at != nil {
				p = at.Child(k)
			}
			lb.Annotations[k] = Setting{Value: s, Path: p, Own: own}
		}
	}
}

// setRanges applies spec-style source ranges; an empty list leaves the
// earlier ones.
func (lb *LoadBalancer) setRanges(list []any, at rules.Path, own bool) {
	var out []Setting
	for i, r := range list {
		if s, ok := r.(string); ok {
			var p rules.Path
			if at != nil {
				p = at.Child(i)
			}
			out = append(out, Setting{Value: s, Path: p, Own: own})
		}
	}
	if len(out) > 0 {
		lb.Ranges = out
	}
}

// finish applies the source-range annotation when no field set ranges, and
// decides the controller from the class and annotations.
func (lb *LoadBalancer) finish(class Setting) {
	if len(lb.Ranges) == 0 {
		if ann, ok := lb.Annotation(AnnotationSourceRanges); ok {
			for _, r := range SplitList(ann.Value) {
				lb.Ranges = append(lb.Ranges, Setting{Value: r, Path: ann.Path, Own: ann.Own})
			}
		}
	}
	typ, _ := lb.Annotation(AnnotationType)
	switch {
	case class.Value == LBCClass:
		lb.Controller = LBC
	case class.Value != "":
		lb.Controller = Other
	case typ.Value == "nlb-ip", typ.Value == "external":
		// The controller takes external only with nlb-target-type ip or
		// instance; without it the legacy provider leaves the Service alone
		// too (isLBExternal), so only the controller, through its webhook's
		// class, can ever make this load balancer.
		lb.Controller = LBC
	default:
		lb.Controller = Unclaimed
	}
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

func servicePorts(ports []any) []int64 {
	var out []int64
	for _, p := range ports {
		if n, ok := rules.AsInt(rules.LookupMap(p)["port"]); ok {
			out = append(out, n)
		}
	}
	return out
}
