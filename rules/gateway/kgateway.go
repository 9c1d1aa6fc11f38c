package gateway

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// KgatewayController is the controllerName kgateway's controller claims.
const KgatewayController = "kgateway.dev/kgateway"

var (
	// GatewayParametersKind is kgateway's parameters kind, which shapes the
	// proxy Deployment and Service it creates for a Gateway.
	GatewayParametersKind = schema.GroupKind{Group: "gateway.kgateway.dev", Kind: "GatewayParameters"}
	// GatewayClassConfigKind is the runbook's parameters kind, which
	// kgateway does not define.
	GatewayClassConfigKind = schema.GroupKind{Group: "kgateway.dev", Kind: "GatewayClassConfig"}
)

// GatewayParameters returns the kgateway GatewayParameters that shape a
// Gateway's Service: the class's first, then the Gateway's own, so later
// ones override.
func GatewayParameters(idx rules.Index, gw *rules.Object) []*rules.Object {
	var out []*rules.Object
	class := idx.Get(GatewayClassKind, "", rules.LookupString(gw.Content, "spec", "gatewayClassName"))
	if class != nil {
		ref := rules.LookupMap(class.Content, "spec", "parametersRef")
		if rules.LookupString(ref, "group") == GatewayParametersKind.Group && rules.LookupString(ref, "kind") == GatewayParametersKind.Kind {
			if gp := idx.Get(GatewayParametersKind, rules.LookupString(ref, "namespace"), rules.LookupString(ref, "name")); gp != nil {
				out = append(out, gp)
			}
		}
	}
	ref := rules.LookupMap(gw.Content, "spec", "infrastructure", "parametersRef")
	if rules.LookupString(ref, "group") == GatewayParametersKind.Group && rules.LookupString(ref, "kind") == GatewayParametersKind.Kind {
		if gp := idx.Get(GatewayParametersKind, gw.Namespace(), rules.LookupString(ref, "name")); gp != nil {
			out = append(out, gp)
		}
	}
	return out
}
