package gateway

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
)

// KgatewayController is the controllerName kgateway's controller claims.
const KgatewayController = "kgateway.dev/kgateway"

// KgatewayControllers are the controllerNames kgateway has claimed, with the
// releases that claim them (kgateway-dev/kgateway wellknown/controller.go):
// kgateway.dev/kgateway in every release; kgateway.dev/agentgateway on the
// v2.1.x line; agentgateway.dev/agentgateway on v2.2.x (its agentgateway
// classes take AgentgatewayParameters in agentgateway.dev). v2.3.0 claims
// kgateway.dev/kgateway alone; agentgateway.dev/agentgateway then belongs
// to the separate agentgateway project.
var KgatewayControllers = map[string]string{
	KgatewayController:              "all releases",
	"kgateway.dev/agentgateway":     "v2.1.x",
	"agentgateway.dev/agentgateway": "v2.2.x, and agentgateway itself",
}

// AgentgatewayParametersKind is the parameters kind of agentgateway classes
// on kgateway v2.2.x.
var AgentgatewayParametersKind = schema.GroupKind{Group: "agentgateway.dev", Kind: "AgentgatewayParameters"}

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

// DefaultKgatewayClassName is the GatewayClass a kgateway install creates.
const DefaultKgatewayClassName = "kgateway"

// MeantForKgateway reports whether a Gateway is meant for kgateway: served
// by it, or of a class whose controllerName mentions kgateway but is not
// one it claims (kgateway-gatewayclass reports that), which it will serve
// once the class is fixed.
func MeantForKgateway(idx rules.Index, gw *rules.Object) bool {
	if ServedByKgateway(idx, gw) {
		return true
	}
	class := idx.Get(GatewayClassKind, "", rules.LookupString(gw.Content, "spec", "gatewayClassName"))
	return class != nil && strings.Contains(strings.ToLower(rules.LookupString(class.Content, "spec", "controllerName")), "kgateway")
}

// ServedByKgateway reports whether kgateway serves a Gateway: its
// GatewayClass names a controller kgateway claims, or, with the class not
// in the index, it is the class name a kgateway install creates.
func ServedByKgateway(idx rules.Index, gw *rules.Object) bool {
	name := rules.LookupString(gw.Content, "spec", "gatewayClassName")
	class := idx.Get(GatewayClassKind, "", name)
	if class == nil {
		return name == DefaultKgatewayClassName
	}
	_, ok := KgatewayControllers[rules.LookupString(class.Content, "spec", "controllerName")]
	return ok
}
