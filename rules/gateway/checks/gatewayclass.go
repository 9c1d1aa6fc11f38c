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
	Summary:  "A GatewayClass for kgateway must use a controllerName kgateway claims and reference GatewayParameters",
	Severity: rules.Warning,
	Rationale: "kgateway only reconciles GatewayClasses whose controllerName it claims: `kgateway.dev/kgateway` " +
		"(every release), `kgateway.dev/agentgateway` (v2.1.x) or `agentgateway.dev/agentgateway` (v2.2.x; " +
		"kgateway-dev/kgateway wellknown/controller.go). The runbook's `kgateway.dev/kgateway-controller` " +
		"is claimed by no controller, so every Gateway of the class stays unaccepted: no proxy, no load " +
		"balancer. controllerName cannot be changed on an existing GatewayClass, so fix it by recreating " +
		"the class. kgateway's parameters are `GatewayParameters` in `gateway.kgateway.dev` (v1alpha1; " +
		"agentgateway classes on v2.2.x take `AgentgatewayParameters` in `agentgateway.dev`), a namespaced " +
		"kind: kgateway looks the class's parametersRef up by name and namespace (v2.3.0 " +
		"pkg/kgateway/deployer/gateway_parameters.go resolveGatewayClassParameters), so without a " +
		"namespace it finds nothing and the Gateways are not deployed. The runbook's `GatewayClassConfig` " +
		"in `kgateway.dev` does not exist (kubectl apply fails with \"no matches for kind\"), so its " +
		"settings never apply. Checked on GatewayClasses whose controllerName mentions kgateway, and on " +
		"GatewayClassConfig objects.",
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
	if _, claimed := gateway.KgatewayControllers[controller]; !claimed {
		c.Reportf(rules.P("spec", "controllerName"),
			"controllerName %q is not one kgateway claims, so no controller accepts this class and its Gateways never get a proxy or load balancer; write controllerName: %s (the field is immutable: recreate the GatewayClass)",
			controller, gateway.KgatewayController)
	}
	ref := rules.LookupMap(obj.Content, "spec", "parametersRef")
	if ref == nil {
		return
	}
	group, kind := rules.LookupString(ref, "group"), rules.LookupString(ref, "kind")
	gk := schema.GroupKind{Group: group, Kind: kind}
	switch {
	case gk != gateway.GatewayParametersKind && gk != gateway.AgentgatewayParametersKind:
		c.Reportf(rules.P("spec", "parametersRef"),
			"parametersRef points at %s, which is not a parameters kind kgateway reads (it looks the name up as a GatewayParameters whatever the reference says), so the settings written in that object never apply; write them in a GatewayParameters and reference group: %s, kind: %s (with its name and namespace)",
			describeGroupKind(group, kind), gateway.GatewayParametersKind.Group, gateway.GatewayParametersKind.Kind)
	case rules.LookupString(ref, "namespace") == "":
		c.Reportf(rules.P("spec", "parametersRef"),
			"parametersRef to %s %q has no namespace, but the kind is namespaced and kgateway looks it up by name and namespace, so it finds nothing and the class's Gateways are not deployed; add the namespace it lives in",
			kind, rules.LookupString(ref, "name"))
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
