// Package checks holds the rules that guard the AWS load balancers in
// front of the stack.
package checks

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aws"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// PublicNLBCloudFront keeps internet-facing load balancers behind CloudFront.
var PublicNLBCloudFront = &rules.Rule{
	ID:       "public-nlb-cloudfront",
	Summary:  "An internet-facing AWS load balancer must only admit CloudFront",
	Severity: rules.Error,
	Rationale: "Company policy: production traffic reaches the gateway through CloudFront with WAF and " +
		"Shield, never straight at an NLB. An `internet-facing` scheme is only compliant when the " +
		"security-group prefix-list annotation admits CloudFront's origin-facing prefix list " +
		"(com.amazonaws.global.cloudfront.origin-facing; the pl- id differs per region) and no source " +
		"range is 0.0.0.0/0 or ::/0. Checked on LoadBalancer Services, Gateways (metadata and " +
		"spec.infrastructure annotations, plus their kgateway GatewayParameters) and GatewayParameters. " +
		"Option `cloudfrontPrefixLists` pins the accepted pl- ids.",
	Kinds:   []schema.GroupKind{rules.ServiceKind, gateway.GatewayKind, gateway.GatewayParametersKind},
	Options: func() any { return &nlbOptions{} },
	Check:   checkPublicNLB,
}

type nlbOptions struct {
	CloudFrontPrefixLists []string `json:"cloudfrontPrefixLists"`
}

func checkPublicNLB(c *rules.Context, obj *rules.Object) {
	if lb := aws.LoadBalancerOf(c.Index, obj); lb != nil {
		judgeLoadBalancer(c, lb, c.Options.(*nlbOptions))
	}
}

func judgeLoadBalancer(c *rules.Context, v *aws.LoadBalancer, opts *nlbOptions) {
	scheme, ok := v.Annotations[aws.AnnotationScheme]
	if !ok || !strings.EqualFold(strings.TrimSpace(scheme.Value), "internet-facing") || !scheme.Own {
		return
	}
	if sg, ok := v.Annotations[aws.AnnotationSecurityGroups]; ok && strings.TrimSpace(sg.Value) != "" {
		c.Report(rules.Finding{Severity: rules.Warning, Path: pathOr(sg, scheme), Message: fmt.Sprintf(
			"cannot verify that this internet-facing load balancer only admits CloudFront: it uses the security groups %s, whose rules are not in the manifest; check them, or use %s with the CloudFront origin-facing prefix list instead",
			sg.Value, aws.AnnotationPrefixLists)})
		return
	}
	pl, hasPL := v.Annotations[aws.AnnotationPrefixLists]
	ids := aws.SplitList(pl.Value)
	if !hasPL || len(ids) == 0 {
		c.Reportf(scheme.Path,
			"internet-facing load balancer admits the whole internet, bypassing CloudFront, WAF and Shield; add %s set to CloudFront's origin-facing prefix list (pl-3b927c52 in us-east-1), or make the scheme internal",
			aws.AnnotationPrefixLists)
	}
	for _, id := range ids {
		switch {
		case !strings.HasPrefix(id, "pl-"):
			c.Reportf(pathOr(pl, scheme), "%q in %s is not a prefix-list id (pl-...); list CloudFront's origin-facing prefix list", id, aws.AnnotationPrefixLists)
		case len(opts.CloudFrontPrefixLists) > 0 && !slices.Contains(opts.CloudFrontPrefixLists, id):
			c.Reportf(pathOr(pl, scheme),
				"prefix list %s is not one of the configured CloudFront origin-facing prefix lists (%s), so this load balancer admits clients other than CloudFront",
				id, strings.Join(opts.CloudFrontPrefixLists, ", "))
		}
	}
	ranges := v.Ranges
	if ann, ok := v.Annotations[aws.AnnotationSourceRanges]; ok {
		for _, r := range aws.SplitList(ann.Value) {
			ranges = append(ranges, aws.Setting{Value: r, Path: ann.Path, Own: ann.Own})
		}
	}
	for _, r := range ranges {
		if r.Value == "0.0.0.0/0" || r.Value == "::/0" {
			c.Reportf(pathOr(r, scheme),
				"source range %s admits the whole internet next to CloudFront; remove it so only the CloudFront prefix list is allowed in", r.Value)
		}
	}
}

// pathOr points at where a setting was written, or at the fallback when it
// was inherited from another object.
func pathOr(s, fallback aws.Setting) rules.Path {
	if s.Own && s.Path != nil {
		return s.Path
	}
	return fallback.Path
}
