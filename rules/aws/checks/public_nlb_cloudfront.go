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
		"Shield, never straight at a load balancer. Who makes a `type: LoadBalancer` Service's load " +
		"balancer decides how exposed it is (kubernetes-sigs/aws-load-balancer-controller v3.5.0, " +
		"kubernetes/cloud-provider-aws v1.36.1): the AWS Load Balancer Controller takes Services with " +
		"loadBalancerClass service.k8s.aws/nlb, or aws-load-balancer-type nlb-ip, or external with " +
		"nlb-target-type ip|instance; its scheme comes from aws-load-balancer-scheme (exactly " +
		"internet-facing or internal), else aws-load-balancer-internal, else internal. An " +
		"internet-facing one is compliant only when the security-group prefix-list annotation names " +
		"CloudFront's origin-facing prefix list (com.amazonaws.global.cloudfront.origin-facing; the " +
		"pl- id differs per region; honoured from controller v2.8.0 on NLBs with security groups) and " +
		"no source range that applies is 0.0.0.0/0 or ::/0 (spec.loadBalancerSourceRanges wins over " +
		"the source-ranges annotation, which is read only when the field is empty). A Service with " +
		"neither class nor those annotations goes to the legacy cloud provider, which makes an " +
		"internet-facing Classic ELB (only aws-load-balancer-internal makes it internal) and ignores " +
		"the scheme and prefix-list annotations, unless the controller's Service webhook (on by default " +
		"in its chart since v2.5.0) gives it the class first, making it an internal NLB: gjallar cannot " +
		"see which, so it warns; option `unclaimedServices` says how the cluster resolves it (legacy: " +
		"treat them as the legacy provider's, an error; lbc: as the controller's). kgateway builds a " +
		"Gateway's Service from its GatewayParameters (extraAnnotations; loadBalancerClass and " +
		"loadBalancerSourceRanges from v2.3.0) and spec.infrastructure.annotations (from v2.2.0), " +
		"never from the Gateway's metadata.annotations: load-balancer annotations written there are " +
		"reported as ignored. kgateway's default Service, with no parameters, is an unclaimed " +
		"LoadBalancer. The controller's own Gateway API objects (LoadBalancerConfiguration with scheme " +
		"internet-facing) are judged too: their security group admits 0.0.0.0/0 and ::/0 unless " +
		"sourceRanges is written, prefix lists or not. Option `cloudfrontPrefixLists` pins the accepted pl- ids.",
	Kinds:   []schema.GroupKind{rules.ServiceKind, gateway.GatewayKind, gateway.GatewayParametersKind, aws.LoadBalancerConfigurationKind},
	Options: func() any { return &nlbOptions{UnclaimedServices: "auto"} },
	Check:   checkPublicNLB,
}

type nlbOptions struct {
	CloudFrontPrefixLists []string `json:"cloudfrontPrefixLists"`
	// UnclaimedServices: auto (cannot tell: warn), legacy (the cluster has
	// no Load Balancer Controller webhook), lbc (it has).
	UnclaimedServices string `json:"unclaimedServices"`
}

func checkPublicNLB(c *rules.Context, obj *rules.Object) {
	opts := c.Options.(*nlbOptions)
	if obj.GroupKind() == aws.LoadBalancerConfigurationKind {
		judgeGatewayLB(c, aws.GatewayLBOf(obj), opts)
		return
	}
	for _, s := range aws.IgnoredGatewayAnnotations(c.Index, obj) {
		c.Report(rules.Finding{Severity: rules.Warning, Path: s.Path, Message: fmt.Sprintf(
			"kgateway does not copy a Gateway's metadata.annotations to the Service it creates, so %s does nothing here; write it under spec.infrastructure.annotations (kgateway v2.2.0 and later) or in the GatewayParameters' spec.kube.service.extraAnnotations",
			lastSegment(s.Path))})
	}
	lb := aws.LoadBalancerOf(c.Index, obj)
	if lb == nil || !lb.Own {
		return
	}
	switch lb.Controller {
	case aws.LBC:
		judgeLBC(c, lb, opts, rules.Error)
	case aws.Unclaimed:
		judgeUnclaimed(c, lb, opts)
	}
}

func judgeUnclaimed(c *rules.Context, lb *aws.LoadBalancer, opts *nlbOptions) {
	switch opts.UnclaimedServices {
	case "lbc":
		judgeLBC(c, lb, opts, rules.Error)
		return
	case "legacy":
		if lb.LegacyInternetFacing() {
			c.Reportf(lb.At, "this LoadBalancer has no loadBalancerClass and no AWS Load Balancer Controller type annotation, so the legacy cloud provider makes it an internet-facing Classic ELB that admits the whole internet (it ignores the scheme and prefix-list annotations), bypassing CloudFront, WAF and Shield; set loadBalancerClass: %s with the CloudFront prefix list, or %s: \"true\"",
				aws.LBCClass, aws.AnnotationInternal)
		}
		return
	}
	if !lb.LegacyInternetFacing() {
		return // internal whichever controller takes it
	}
	c.Report(rules.Finding{Severity: rules.Warning, Path: lb.At, Message: fmt.Sprintf(
		"cannot tell how exposed this LoadBalancer is: it has no loadBalancerClass and no AWS Load Balancer Controller type annotation, so the legacy cloud provider makes it an internet-facing Classic ELB open to the whole internet, unless the Load Balancer Controller's Service webhook claims it first (then an NLB, internal unless its scheme says otherwise); set loadBalancerClass: %s (and the scheme and CloudFront prefix list) so the annotations apply, or %s: \"true\"; rule option unclaimedServices says how this cluster resolves it",
		aws.LBCClass, aws.AnnotationInternal)})
}

func judgeLBC(c *rules.Context, lb *aws.LoadBalancer, opts *nlbOptions, severity rules.Severity) {
	internetFacing, scheme := lb.LBCScheme()
	if !internetFacing || !scheme.Own {
		return
	}
	at := pathOr(scheme, aws.Setting{Path: lb.At})
	report := func(p rules.Path, format string, args ...any) {
		c.Report(rules.Finding{Severity: severity, Path: p, Message: fmt.Sprintf(format, args...)})
	}
	if sg, ok := lb.Annotation(aws.AnnotationSecurityGroups); ok && strings.TrimSpace(sg.Value) != "" {
		c.Report(rules.Finding{Severity: rules.Warning, Path: pathOr(sg, scheme), Message: fmt.Sprintf(
			"cannot verify that this internet-facing load balancer only admits CloudFront: it uses the security groups %s, whose rules are not in the manifest; check them, or use %s with the CloudFront origin-facing prefix list instead",
			sg.Value, aws.AnnotationPrefixLists)})
		return
	}
	if off, ok := lb.Annotation(aws.AnnotationDisableNLBSG); ok && strings.EqualFold(off.Value, "true") {
		report(pathOr(off, scheme), "internet-facing load balancer has no security group (%s), so neither a prefix list nor source ranges can keep out anyone but CloudFront; remove that annotation and add %s with CloudFront's origin-facing prefix list, or make the scheme internal",
			aws.AnnotationDisableNLBSG, aws.AnnotationPrefixLists)
		return
	}
	pl, ids := lb.PrefixLists()
	if len(ids) == 0 {
		admits := "the whole internet,"
		if len(lb.Ranges) > 0 && !anyOpen(lb.Ranges) {
			admits = "only " + rangeList(lb.Ranges) + ", not CloudFront's origin-facing prefix list,"
		}
		report(at, "internet-facing load balancer admits %s bypassing CloudFront, WAF and Shield; add %s set to CloudFront's origin-facing prefix list (pl-3b927c52 in us-east-1), or make the scheme internal",
			admits, aws.AnnotationPrefixLists)
	}
	for _, id := range ids {
		switch {
		case !strings.HasPrefix(id, "pl-"):
			report(pathOr(pl, scheme), "%q in %s is not a prefix-list id (pl-...); list CloudFront's origin-facing prefix list", id, aws.AnnotationPrefixLists)
		case len(opts.CloudFrontPrefixLists) > 0 && !slices.Contains(opts.CloudFrontPrefixLists, id):
			report(pathOr(pl, scheme),
				"prefix list %s is not one of the configured CloudFront origin-facing prefix lists (%s), so this load balancer admits clients other than CloudFront",
				id, strings.Join(opts.CloudFrontPrefixLists, ", "))
		}
	}
	for _, r := range lb.Ranges {
		if r.Value == "0.0.0.0/0" || r.Value == "::/0" {
			report(pathOr(r, scheme),
				"source range %s admits the whole internet next to CloudFront; remove it so only the CloudFront prefix list is allowed in", r.Value)
		}
	}
}

// judgeGatewayLB judges the AWS Load Balancer Controller's
// LoadBalancerConfiguration for its own Gateways.
func judgeGatewayLB(c *rules.Context, g *aws.GatewayLB, opts *nlbOptions) {
	if g.Scheme.Value != "internet-facing" {
		return
	}
	if len(g.SecurityGroups) > 0 {
		c.Report(rules.Finding{Severity: rules.Warning, Path: g.SecurityGroups[0].Path, Message: "cannot verify that this internet-facing load balancer only admits CloudFront: it uses security groups whose rules are not in the manifest; check them, or use securityGroupPrefixes with the CloudFront origin-facing prefix list and sourceRanges: [] instead"})
		return
	}
	if g.DisableSG {
		c.Reportf(rules.P("spec", "disableSecurityGroup"), "internet-facing load balancer has no security group, so nothing keeps out anyone but CloudFront; drop disableSecurityGroup, list CloudFront's origin-facing prefix list in securityGroupPrefixes and write sourceRanges: []")
		return
	}
	if len(g.Prefixes) == 0 {
		c.Reportf(g.Scheme.Path, "internet-facing load balancer admits the whole internet, bypassing CloudFront, WAF and Shield; list CloudFront's origin-facing prefix list in securityGroupPrefixes and write sourceRanges: [], or make the scheme internal")
		return
	}
	for _, p := range g.Prefixes {
		if len(opts.CloudFrontPrefixLists) > 0 && !slices.Contains(opts.CloudFrontPrefixLists, p.Value) {
			c.Reportf(p.Path, "prefix list %s is not one of the configured CloudFront origin-facing prefix lists (%s), so this load balancer admits clients other than CloudFront",
				p.Value, strings.Join(opts.CloudFrontPrefixLists, ", "))
		}
	}
	if !g.RangesWritten {
		c.Reportf(g.PrefixesAt, "the Load Balancer Controller still admits 0.0.0.0/0 and ::/0 next to securityGroupPrefixes when sourceRanges is not written, so the whole internet bypasses CloudFront; add sourceRanges: []")
	}
	for _, r := range g.SourceRanges {
		if r.Value == "0.0.0.0/0" || r.Value == "::/0" {
			c.Reportf(r.Path, "source range %s admits the whole internet next to CloudFront; remove it so only the CloudFront prefix list is allowed in", r.Value)
		}
	}
}

func anyOpen(ranges []aws.Setting) bool {
	return slices.ContainsFunc(ranges, func(r aws.Setting) bool { return r.Value == "0.0.0.0/0" || r.Value == "::/0" })
}

func rangeList(ranges []aws.Setting) string {
	var out []string
	for _, r := range ranges {
		out = append(out, r.Value)
	}
	return strings.Join(out, ", ")
}

// pathOr points at where a setting was written, or at the fallback when it
// was inherited from another object.
func pathOr(s, fallback aws.Setting) rules.Path {
	if s.Own && s.Path != nil {
		return s.Path
	}
	return fallback.Path
}

func lastSegment(p rules.Path) string {
	if len(p) == 0 {
		return ""
	}
	return p[len(p)-1]
}
