package rules

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kgatewayController is the controllerName kgateway's controller claims.
const kgatewayController = "kgateway.dev/kgateway"

// gatewayClassConfigKind is the runbook's parameters kind, which kgateway
// does not define.
var gatewayClassConfigKind = schema.GroupKind{Group: "kgateway.dev", Kind: "GatewayClassConfig"}

// KgatewayGatewayClass catches GatewayClasses meant for kgateway that it
// will not accept.
var KgatewayGatewayClass = &Rule{
	ID:       "kgateway-gatewayclass",
	Summary:  "A GatewayClass for kgateway must use controllerName kgateway.dev/kgateway and GatewayParameters",
	Severity: Warning,
	Rationale: "kgateway only reconciles GatewayClasses whose controllerName is exactly `kgateway.dev/kgateway`; " +
		"the runbook's `kgateway.dev/kgateway-controller` is claimed by no controller, so every Gateway " +
		"of the class stays unaccepted: no proxy, no load balancer. controllerName cannot be changed " +
		"on an existing GatewayClass, so fix it by recreating the class. kgateway's parameters are " +
		"`GatewayParameters` in `gateway.kgateway.dev` (v1alpha1), a namespaced kind, so parametersRef " +
		"also needs a namespace; the runbook's `GatewayClassConfig` in `kgateway.dev` does not exist " +
		"(kubectl apply fails with \"no matches for kind\") and its settings never apply. Checked on " +
		"GatewayClasses whose controllerName mentions kgateway, and on GatewayClassConfig objects.",
	Kinds: []schema.GroupKind{GatewayClassKind, gatewayClassConfigKind},
	Check: checkKgatewayClass,
}

func checkKgatewayClass(c *Context, obj *Object) {
	if obj.GroupKind() == gatewayClassConfigKind {
		c.Reportf(P("kind"),
			"kgateway has no GatewayClassConfig kind, so kubectl apply fails with \"no matches for kind\" and these settings never apply; write a GatewayParameters in gateway.kgateway.dev/v1alpha1 (proxy settings under spec.kube)")
		return
	}
	controller := LookupString(obj.Content, "spec", "controllerName")
	if !strings.Contains(strings.ToLower(controller), "kgateway") {
		return // another implementation's class
	}
	if controller != kgatewayController {
		c.Reportf(P("spec", "controllerName"),
			"controllerName %q is not kgateway's, so no controller accepts this class and its Gateways never get a proxy or load balancer; write controllerName: %s (the field is immutable: recreate the GatewayClass)",
			controller, kgatewayController)
	}
	ref := LookupMap(obj.Content, "spec", "parametersRef")
	if ref == nil {
		return
	}
	group, kind := LookupString(ref, "group"), LookupString(ref, "kind")
	switch {
	case group != GatewayParametersKind.Group || kind != GatewayParametersKind.Kind:
		c.Reportf(P("spec", "parametersRef"),
			"parametersRef points at %s, which kgateway does not know, so the class's settings never apply; reference group: %s, kind: %s (with its name and namespace)",
			describeGroupKind(group, kind), GatewayParametersKind.Group, GatewayParametersKind.Kind)
	case LookupString(ref, "namespace") == "":
		c.Reportf(P("spec", "parametersRef"),
			"parametersRef to GatewayParameters %q has no namespace, but GatewayParameters are namespaced, so kgateway cannot find them; add the namespace they live in",
			LookupString(ref, "name"))
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
