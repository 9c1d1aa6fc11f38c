package checks

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// KgatewayGatewayClass catches GatewayClasses meant for kgateway that it
// will not accept.
var KgatewayGatewayClass = &rules.Rule{
	ID:       "kgateway-gatewayclass",
	Summary:  "A GatewayClass for kgateway must use controllerName kgateway.dev/kgateway and GatewayParameters",
	Severity: rules.Warning,
	Rationale: "kgateway only reconciles GatewayClasses whose controllerName is exactly `kgateway.dev/kgateway`; " +
		"the runbook's `kgateway.dev/kgateway-controller` is claimed by no controller, so every Gateway " +
		"of the class stays unaccepted: no proxy, no load balancer. controllerName cannot be changed " +
		"on an existing GatewayClass, so fix it by recreating the class. kgateway's parameters are " +
		"`GatewayParameters` in `gateway.kgateway.dev` (v1alpha1), a namespaced kind, so parametersRef " +
		"also needs a namespace; the runbook's `GatewayClassConfig` in `kgateway.dev` does not exist " +
		"(kubectl apply fails with \"no matches for kind\") and its settings never apply. Checked on " +
		"GatewayClasses whose controllerName mentions kgateway, and on GatewayClassConfig objects.",
	Kinds: []schema.GroupKind{gateway.GatewayClassKind, gateway.GatewayClassConfigKind},
	Check: checkKgatewayClass,
}

func checkKgatewayClass(c *rules.Context, obj *rules.Object) {
	if obj.GroupKind() == gateway.GatewayClassConfigKind {
		c.Reportf(rules.P("kind"),
			"kgateway has no GatewayClassConfig kind, so kubectl apply fails with \"no matches for kind\" and these settings never apply; write a GatewayParameters in gateway.kgateway.dev/v1alpha1 (proxy settings under spec.kube)")
		return
	}
	controller := rules.LookupString(obj.Content, "spec", "controllerName")
	if !strings.Contains(strings.ToLower(controller), "kgateway") {
		return // another implementation's class
	}
	if controller != gateway.KgatewayController {
		c.Reportf(rules.P("spec", "controllerName"),
			"controllerName %q is not kgateway's, so no controller accepts this class and its Gateways never get a proxy or load balancer; write controllerName: %s (the field is immutable: recreate the GatewayClass)",
			controller, gateway.KgatewayController)
	}
	ref := rules.LookupMap(obj.Content, "spec", "parametersRef")
	if ref == nil {
		return
	}
	group, kind := rules.LookupString(ref, "group"), rules.LookupString(ref, "kind")
	switch {
	case group != gateway.GatewayParametersKind.Group || kind != gateway.GatewayParametersKind.Kind:
		c.Reportf(rules.P("spec", "parametersRef"),
			"parametersRef points at %s, which kgateway does not know, so the class's settings never apply; reference group: %s, kind: %s (with its name and namespace)",
			describeGroupKind(group, kind), gateway.GatewayParametersKind.Group, gateway.GatewayParametersKind.Kind)
	case rules.LookupString(ref, "namespace") == "":
		c.Reportf(rules.P("spec", "parametersRef"),
			"parametersRef to GatewayParameters %q has no namespace, but GatewayParameters are namespaced, so kgateway cannot find them; add the namespace they live in",
			rules.LookupString(ref, "name"))
	}
}

func describeGroupKind(group, kind string) string {
	if kind == "" {
		kind = "(no kind)"
	}
	if group == "" {
		return fmt.Sprintf("kind %s in the core group", kind)
	}
	return fmt.Sprintf("%s in %s", kind, group)
}
