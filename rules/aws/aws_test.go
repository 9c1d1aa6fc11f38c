package aws

import (
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
)

func service(annotations map[string]any, spec map[string]any) *rules.Object {
	if spec == nil {
		spec = map[string]any{}
	}
	spec["type"] = "LoadBalancer"
	return rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "s", "namespace": "n", "annotations": annotations}, "spec": spec})
}

func TestController(t *testing.T) {
	cases := []struct {
		name string
		ann  map[string]any
		spec map[string]any
		want Controller
	}{
		{"class", nil, map[string]any{"loadBalancerClass": LBCClass}, LBC},
		{"another class", map[string]any{AnnotationType: "external"}, map[string]any{"loadBalancerClass": "metallb.io/metallb"}, Other},
		{"nlb-ip", map[string]any{AnnotationType: "nlb-ip"}, nil, LBC},
		{"external with a target type", map[string]any{AnnotationType: "external", AnnotationTargetType: "ip"}, nil, LBC},
		{"external alone: the legacy provider skips it too", map[string]any{AnnotationType: "external"}, nil, LBC},
		{"nlb: the legacy provider's NLB", map[string]any{AnnotationType: "nlb"}, nil, Unclaimed},
		{"nothing", nil, nil, Unclaimed},
		{"the other annotation prefix", map[string]any{"service.kubernetes.io/aws-load-balancer-type": "nlb-ip"}, nil, LBC},
	}
	for _, c := range cases {
		if got := LoadBalancerOf(rules.NewMemIndex(nil), service(c.ann, c.spec)).Controller; got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSchemeAndRanges(t *testing.T) {
	idx := rules.NewMemIndex(nil)
	lb := LoadBalancerOf(idx, service(map[string]any{AnnotationInternal: "false", AnnotationSourceRanges: "0.0.0.0/0"},
		map[string]any{"loadBalancerSourceRanges": []any{"203.0.113.0/24"}}))
	if up, _ := lb.LBCScheme(); !up {
		t.Error(`aws-load-balancer-internal: "false" is internet-facing for the controller`)
	}
	if len(lb.Ranges) != 1 || lb.Ranges[0].Value != "203.0.113.0/24" {
		t.Errorf("spec ranges must win over the annotation: %+v", lb.Ranges)
	}
	lb = LoadBalancerOf(idx, service(map[string]any{AnnotationScheme: "Internet-Facing", AnnotationSourceRanges: "10.0.0.0/8, ::/0"}, nil))
	if up, _ := lb.LBCScheme(); up {
		t.Error("the controller matches the scheme exactly")
	}
	if len(lb.Ranges) != 2 {
		t.Errorf("with no spec ranges the annotation applies: %+v", lb.Ranges)
	}
	if !LoadBalancerOf(idx, service(nil, nil)).LegacyInternetFacing() || LoadBalancerOf(idx, service(map[string]any{AnnotationInternal: "true"}, nil)).LegacyInternetFacing() {
		t.Error("the legacy provider is internet-facing unless aws-load-balancer-internal says otherwise")
	}
}
