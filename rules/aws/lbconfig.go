package aws

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// LoadBalancerConfigurationKind is the AWS Load Balancer Controller's
// configuration of the load balancer it makes for a Gateway of its own
// classes (gateway.k8s.aws/nlb, gateway.k8s.aws/alb; v1beta1 from v2.13.0,
// v1 from v3.5.0: apis/gateway/v1/loadbalancerconfig_types.go).
var LoadBalancerConfigurationKind = schema.GroupKind{Group: "gateway.k8s.aws", Kind: "LoadBalancerConfiguration"}

// GatewayLB is a LoadBalancerConfiguration's exposure. Unlike a Service's,
// its managed security group admits 0.0.0.0/0 and ::/0 whenever
// sourceRanges is not written, prefix lists or not
// (pkg/gateway/model/model_build_security_group.go
// buildManagedSecurityGroupIngressPermissions).
type GatewayLB struct {
	Scheme         Setting // "" when unset: the controller's default, internal
	Prefixes       []Setting
	PrefixesAt     rules.Path
	SourceRanges   []Setting
	RangesWritten  bool
	SecurityGroups []Setting
	DisableSG      bool
	Ports          []int64
}

// GatewayLBOf reads a LoadBalancerConfiguration.
func GatewayLBOf(obj *rules.Object) *GatewayLB {
	spec := rules.LookupMap(obj.Content, "spec")
	g := &GatewayLB{PrefixesAt: rules.P("spec", "securityGroupPrefixes")}
	if s, ok := spec["scheme"].(string); ok {
		g.Scheme = Setting{Value: s, Path: rules.P("spec", "scheme"), Own: true}
	}
	strs := func(field string) []Setting {
		var out []Setting
		for i, v := range rules.LookupList(spec, field) {
			if s, ok := v.(string); ok {
				out = append(out, Setting{Value: s, Path: rules.P("spec", field, i), Own: true})
			}
		}
		return out
	}
	g.Prefixes = strs("securityGroupPrefixes")
	g.SecurityGroups = strs("securityGroups")
	g.SourceRanges = strs("sourceRanges")
	_, g.RangesWritten = spec["sourceRanges"].([]any)
	g.DisableSG = spec["disableSecurityGroup"] == true
	for _, l := range rules.LookupList(spec, "listenerConfigurations") {
		pp := rules.LookupString(l, "protocolPort")
		if _, port, ok := strings.Cut(pp, ":"); ok {
			if n, err := strconv.ParseInt(port, 10, 64); err == nil {
				g.Ports = append(g.Ports, n)
			}
		}
	}
	return g
}
