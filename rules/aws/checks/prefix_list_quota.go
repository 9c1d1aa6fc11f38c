package checks

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aws"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// CloudFrontPrefixListQuota catches load balancers whose security group
// needs more rules than a security group may hold.
var CloudFrontPrefixListQuota = &rules.Rule{
	ID:       "cloudfront-prefix-list-quota",
	Summary:  "CloudFront's prefix list on several listener ports overflows the rules one security group may hold",
	Severity: rules.Warning,
	Rationale: "The AWS Load Balancer Controller gives an NLB one managed security group with an inbound " +
		"rule per listener port for each source range and each prefix list " +
		"(kubernetes-sigs/aws-load-balancer-controller v3.5.0 pkg/service/model_build_managed_sg.go, " +
		"pkg/gateway/model/model_build_security_group.go). AWS counts a rule that references a prefix " +
		"list as that list's maximum entries, and CloudFront's origin-facing list weighs 55 (AWS's " +
		"managed-prefix-list documentation), against a default quota of 60 inbound rules per security " +
		"group. So CloudFront on one port fits, on two ports (80 and 443) it needs 110 and the " +
		"controller never reconciles the load balancer (RulesPerSecurityGroupLimitExceeded; " +
		"aws-load-balancer-controller issues #4800 and #2030). A dualstack load balancer doubles only " +
		"the default 0.0.0.0/0 rule, not prefix-list rules, in the controller's code; list the IPv6 " +
		"CloudFront prefix list too and it counts again. Serve one listener port, or raise the " +
		"account's quota of rules per security group (then set option `rulesPerSecurityGroup`). " +
		"Options: `rulesPerSecurityGroup` (default 60), `prefixListWeight` (default 55), " +
		"`cloudfrontPrefixLists` (the ids that weigh that much; by default every listed prefix list).",
	Kinds:   []schema.GroupKind{rules.ServiceKind, gateway.GatewayKind, gateway.GatewayParametersKind, aws.LoadBalancerConfigurationKind},
	Options: func() any { return &quotaOptions{RulesPerSecurityGroup: 60, PrefixListWeight: 55} },
	Check:   checkPrefixListQuota,
}

type quotaOptions struct {
	RulesPerSecurityGroup int      `json:"rulesPerSecurityGroup"`
	PrefixListWeight      int      `json:"prefixListWeight"`
	CloudFrontPrefixLists []string `json:"cloudfrontPrefixLists"`
}

func checkPrefixListQuota(c *rules.Context, obj *rules.Object) {
	opts := c.Options.(*quotaOptions)
	var lists []string
	var ports []int64
	var ranges int
	var at rules.Path
	if obj.GroupKind() == aws.LoadBalancerConfigurationKind {
		g := aws.GatewayLBOf(obj)
		for _, p := range g.Prefixes {
			lists = append(lists, p.Value)
		}
		ports, ranges, at = g.Ports, len(g.SourceRanges), g.PrefixesAt
		if !g.RangesWritten {
			ranges = 1 // 0.0.0.0/0 stays
		}
	} else {
		// A Service, or a Gateway, whose listeners are the ports; a
		// GatewayParameters has none of its own and is judged through the
		// Gateways using it.
		lb := aws.LoadBalancerOf(c.Index, obj)
		if lb == nil || lb.Controller == aws.Other || obj.GroupKind() == gateway.GatewayParametersKind {
			return
		}
		pl, ids := lb.PrefixLists()
		at = pl.Path
		if !pl.Own || at == nil {
			at = rules.P("spec", "listeners")
		}
		lists, ports, ranges = ids, lb.Ports, len(lb.Ranges)
	}
	weighty := 0
	for _, id := range lists {
		if len(opts.CloudFrontPrefixLists) == 0 || slices.Contains(opts.CloudFrontPrefixLists, id) {
			weighty++
		}
	}
	if weighty == 0 || len(ports) == 0 {
		return
	}
	need := len(ports) * (weighty*opts.PrefixListWeight + (len(lists) - weighty) + ranges)
	if need <= opts.RulesPerSecurityGroup {
		return
	}
	c.Reportf(at,
		"the load balancer's security group needs %d inbound rules (%d listener ports × %d prefix list(s) weighing %d each%s), more than the %d one security group may hold, so the AWS Load Balancer Controller fails to reconcile it (RulesPerSecurityGroupLimitExceeded); serve one listener port behind CloudFront, or raise the rules-per-security-group quota and this rule's rulesPerSecurityGroup option",
		need, len(ports), weighty, opts.PrefixListWeight, plusRanges(ranges), opts.RulesPerSecurityGroup)
}

func plusRanges(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", plus %d source range(s)", n)
}
