package rules

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AWS Load Balancer Controller annotations.
const (
	annScheme        = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	annPrefixLists   = "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists"
	annSecurityGroup = "service.beta.kubernetes.io/aws-load-balancer-security-groups"
	annSourceRanges  = "service.beta.kubernetes.io/load-balancer-source-ranges"
)

var (
	GatewayKind           = schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "Gateway"}
	GatewayClassKind      = schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}
	GatewayParametersKind = schema.GroupKind{Group: "gateway.kgateway.dev", Kind: "GatewayParameters"}
)

// PublicNLBCloudFront keeps internet-facing load balancers behind CloudFront.
var PublicNLBCloudFront = &Rule{
	ID:       "public-nlb-cloudfront",
	Summary:  "An internet-facing AWS load balancer must only admit CloudFront",
	Severity: Error,
	Rationale: "Company policy: production traffic reaches the gateway through CloudFront with WAF and " +
		"Shield, never straight at an NLB. An `internet-facing` scheme is only compliant when the " +
		"security-group prefix-list annotation admits CloudFront's origin-facing prefix list " +
		"(com.amazonaws.global.cloudfront.origin-facing; the pl- id differs per region) and no source " +
		"range is 0.0.0.0/0 or ::/0. Checked on LoadBalancer Services, Gateways (metadata and " +
		"spec.infrastructure annotations, plus their kgateway GatewayParameters) and GatewayParameters. " +
		"Option `cloudfrontPrefixLists` pins the accepted pl- ids.",
	Kinds:   []schema.GroupKind{ServiceKind, GatewayKind, GatewayParametersKind},
	Options: func() any { return &nlbOptions{} },
	Check:   checkPublicNLB,
}

type nlbOptions struct {
	CloudFrontPrefixLists []string `json:"cloudfrontPrefixLists"`
}

// lbSetting is one annotation or source range with where it was written.
type lbSetting struct {
	value string
	path  Path
	own   bool // written on the object being checked, not inherited
}

type lbView struct {
	annotations map[string]lbSetting
	ranges      []lbSetting
}

func (v *lbView) addAnnotations(m map[string]any, at Path, own bool) {
	for k, val := range m {
		if s, ok := val.(string); ok {
			v.annotations[k] = lbSetting{value: s, path: at.Child(k), own: own}
		}
	}
}

func (v *lbView) addRanges(list []any, at Path) {
	for i, r := range list {
		if s, ok := r.(string); ok {
			v.ranges = append(v.ranges, lbSetting{value: s, path: at.Child(i), own: true})
		}
	}
}

func checkPublicNLB(c *Context, obj *Object) {
	v := &lbView{annotations: map[string]lbSetting{}}
	switch obj.GroupKind() {
	case ServiceKind:
		if LookupString(obj.Content, "spec", "type") != "LoadBalancer" {
			return // a ClusterIP Service's LB annotations do nothing
		}
		v.addAnnotations(LookupMap(obj.Content, "metadata", "annotations"), P("metadata", "annotations"), true)
		v.addRanges(LookupList(obj.Content, "spec", "loadBalancerSourceRanges"), P("spec", "loadBalancerSourceRanges"))
	case GatewayParametersKind:
		svc := LookupMap(obj.Content, "spec", "kube", "service")
		if t := LookupString(svc, "type"); t != "" && t != "LoadBalancer" {
			return
		}
		at := P("spec", "kube", "service")
		v.addAnnotations(LookupMap(svc, "extraAnnotations"), at.Child("extraAnnotations"), true)
		v.addRanges(LookupList(svc, "loadBalancerSourceRanges"), at.Child("loadBalancerSourceRanges"))
	case GatewayKind:
		for _, gp := range gatewayParameters(c.Index, obj) {
			svc := LookupMap(gp.Content, "spec", "kube", "service")
			if t := LookupString(svc, "type"); t != "" && t != "LoadBalancer" {
				return
			}
			v.addAnnotations(LookupMap(svc, "extraAnnotations"), nil, false)
			for _, r := range LookupList(svc, "loadBalancerSourceRanges") {
				if s, ok := r.(string); ok {
					v.ranges = append(v.ranges, lbSetting{value: s})
				}
			}
		}
		v.addAnnotations(LookupMap(obj.Content, "metadata", "annotations"), P("metadata", "annotations"), true)
		v.addAnnotations(LookupMap(obj.Content, "spec", "infrastructure", "annotations"), P("spec", "infrastructure", "annotations"), true)
	}
	judgeLoadBalancer(c, v, c.Options.(*nlbOptions))
}

// gatewayParameters returns the kgateway GatewayParameters that shape a
// Gateway's Service: the class's first, then the Gateway's own, so later
// ones override.
func gatewayParameters(idx Index, gw *Object) []*Object {
	var out []*Object
	class := idx.Get(GatewayClassKind, "", LookupString(gw.Content, "spec", "gatewayClassName"))
	if class != nil {
		ref := LookupMap(class.Content, "spec", "parametersRef")
		if LookupString(ref, "group") == GatewayParametersKind.Group && LookupString(ref, "kind") == GatewayParametersKind.Kind {
			if gp := idx.Get(GatewayParametersKind, LookupString(ref, "namespace"), LookupString(ref, "name")); gp != nil {
				out = append(out, gp)
			}
		}
	}
	ref := LookupMap(gw.Content, "spec", "infrastructure", "parametersRef")
	if LookupString(ref, "group") == GatewayParametersKind.Group && LookupString(ref, "kind") == GatewayParametersKind.Kind {
		if gp := idx.Get(GatewayParametersKind, gw.Namespace(), LookupString(ref, "name")); gp != nil {
			out = append(out, gp)
		}
	}
	return out
}

func judgeLoadBalancer(c *Context, v *lbView, opts *nlbOptions) {
	scheme, ok := v.annotations[annScheme]
	if !ok || !strings.EqualFold(strings.TrimSpace(scheme.value), "internet-facing") || !scheme.own {
		return
	}
	if sg, ok := v.annotations[annSecurityGroup]; ok && strings.TrimSpace(sg.value) != "" {
		c.Report(Finding{Severity: Warning, Path: pathOr(sg, scheme), Message: fmt.Sprintf(
			"cannot verify that this internet-facing load balancer only admits CloudFront: it uses the security groups %s, whose rules are not in the manifest; check them, or use %s with the CloudFront origin-facing prefix list instead",
			sg.value, annPrefixLists)})
		return
	}
	pl, hasPL := v.annotations[annPrefixLists]
	ids := splitList(pl.value)
	if !hasPL || len(ids) == 0 {
		c.Reportf(scheme.path,
			"internet-facing load balancer admits the whole internet, bypassing CloudFront, WAF and Shield; add %s set to CloudFront's origin-facing prefix list (pl-3b927c52 in us-east-1), or make the scheme internal",
			annPrefixLists)
	}
	for _, id := range ids {
		switch {
		case !strings.HasPrefix(id, "pl-"):
			c.Reportf(pathOr(pl, scheme), "%q in %s is not a prefix-list id (pl-...); list CloudFront's origin-facing prefix list", id, annPrefixLists)
		case len(opts.CloudFrontPrefixLists) > 0 && !slices.Contains(opts.CloudFrontPrefixLists, id):
			c.Reportf(pathOr(pl, scheme),
				"prefix list %s is not one of the configured CloudFront origin-facing prefix lists (%s), so this load balancer admits clients other than CloudFront",
				id, strings.Join(opts.CloudFrontPrefixLists, ", "))
		}
	}
	ranges := v.ranges
	if ann, ok := v.annotations[annSourceRanges]; ok {
		for _, r := range splitList(ann.value) {
			ranges = append(ranges, lbSetting{value: r, path: ann.path, own: ann.own})
		}
	}
	for _, r := range ranges {
		if r.value == "0.0.0.0/0" || r.value == "::/0" {
			c.Reportf(pathOr(r, scheme),
				"source range %s admits the whole internet next to CloudFront; remove it so only the CloudFront prefix list is allowed in", r.value)
		}
	}
}

// pathOr points at where a setting was written, or at the fallback when it
// was inherited from another object.
func pathOr(s, fallback lbSetting) Path {
	if s.own && s.path != nil {
		return s.path
	}
	return fallback.path
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
