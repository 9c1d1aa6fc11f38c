package checks

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/gateway"
)

// HTTPRouteBackendExists catches routes to Services (or ports) that are not
// there.
var HTTPRouteBackendExists = &rules.Rule{
	ID:       "httproute-backend-exists",
	Summary:  "An HTTPRoute backendRef must name an existing Service and one of its ports",
	Severity: rules.Warning,
	Rationale: "A backendRef to a Service that does not exist, or to a port the Service does not expose, " +
		"resolves to nothing (ResolvedRefs=False, BackendNotFound), so kgateway answers that rule's " +
		"requests with 500 while the route still looks applied. `port` is the Service's port, not the " +
		"pod's targetPort (the runbook's vllm-service listens on 8000, langfuse-web on 3000). The " +
		"API server requires a port on Service references (Gateway API CRD validation since v0.8.0, " +
		"apis/v1/object_reference_types.go), and kgateway looks Service backends up by name and port " +
		"(v2.3.0 pkg/krtcollections/policy.go). Only Service backends are checked. In lint, a missing " +
		"Service is only reported where the input evidently holds that namespace's Services (at least " +
		"one of them is there) or with --complete; otherwise it is assumed to be deployed elsewhere.",
	Kinds: []schema.GroupKind{gateway.HTTPRouteKind},
	Check: checkBackendExists,
}

func checkBackendExists(c *rules.Context, obj *rules.Object) {
	for _, rule := range gateway.Rules(obj) {
		for _, b := range append(append([]gateway.Ref(nil), rule.Backends...), rule.Mirrors...) {
			if !b.IsService() || b.Name == "" {
				continue
			}
			checkServiceBackend(c, obj, b)
		}
	}
}

func checkServiceBackend(c *rules.Context, route *rules.Object, b gateway.Ref) {
	if b.Port == 0 {
		if _, written := rules.Lookup(route.Content, b.Path.Child("port")); written {
			return // a port that is not a number is the API server's to reject
		}
		c.Reportf(b.Path, "backendRef to %s has no port, which a Service backend requires, so the API server rejects the route; set port to one of the Service's ports", b.Describe())
		return
	}
	svc := c.Index.Get(rules.ServiceKind, b.Namespace, b.Name)
	if svc == nil {
		if rules.KindKnownIn(c.Index, rules.ServiceKind, b.Namespace) {
			c.Reportf(b.Path.Child("name"),
				"backendRef names %s, which does not exist, so kgateway answers this rule's requests with 500; fix the name or create the Service",
				b.Describe())
		}
		return
	}
	var ports []string
	targetMatch := ""
	for _, p := range rules.LookupList(svc.Content, "spec", "ports") {
		port, ok := rules.AsInt(rules.LookupMap(p)["port"])
		if !ok {
			continue
		}
		if port == b.Port {
			return
		}
		ports = append(ports, strconv.FormatInt(port, 10))
		if t, ok := rules.AsInt(rules.LookupMap(p)["targetPort"]); ok && t == b.Port {
			targetMatch = fmt.Sprintf(" (%d is its targetPort; a backendRef names the Service port %d)", t, port)
		}
	}
	exposes := "exposes no ports"
	switch {
	case len(ports) == 1:
		exposes = "exposes port " + ports[0]
	case len(ports) > 1:
		exposes = "exposes ports " + strings.Join(ports, ", ")
	}
	c.Reportf(b.Path.Child("port"),
		"backendRef port %d is not a port of %s, which %s%s, so kgateway answers this rule's requests with 500; use the Service's port",
		b.Port, b.Describe(), exposes, targetMatch)
}
