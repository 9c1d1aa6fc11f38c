package rules_test

import "github.com/gjallar-dev/gjallar/rules"

// trapFixtures are the bad-fixture expectations of the trap rules, merged
// into badFixtures so TestRuleFixtures checks them like the core rules'.
var trapFixtures = map[string]map[string][]want{
	"httproute-reference-grant": {
		"missing-grant": {
			{15, rules.Error, "no ReferenceGrant in ai-external allows HTTPRoutes from ai-gateway (allow-inference there does not cover it)"},
			{22, rules.Error, "Service observability/langfuse-web crosses namespaces, but no ReferenceGrant in observability"},
		},
		"listeners": {
			{10, rules.Error, "no listener of that Gateway admits routes from observability (allowedRoutes.namespaces.from: Same (default))"},
			{12, rules.Error, "(allowedRoutes.namespaces.from: Same, Selector)"},
			{26, rules.Info, "Namespace team-x is not in the input"},
		},
		"elsewhere.yaml": {
			{10, rules.Info, "the Gateway is not in the input"},
			{15, rules.Info, "the ReferenceGrant may live elsewhere"},
		},
	},
}

func init() {
	for id, fixtures := range trapFixtures {
		if badFixtures[id] != nil {
			panic("trap rule " + id + " already has fixtures in badFixtures")
		}
		badFixtures[id] = fixtures
	}
}
