# A team policy for the webhook tests: a Deployment's envFrom ConfigMaps
# must exist, looked up in data.inventory (the cluster's cache in the
# webhook). Only namespaces named policy-* are judged, so the policy does
# not affect the other tests.
package main

deny contains result if {
	input.kind == "Deployment"
	startswith(input.metadata.namespace, "policy-")
	some c in input.spec.template.spec.containers
	some ef in c.envFrom
	name := ef.configMapRef.name
	not data.inventory.namespace[input.metadata.namespace].v1.ConfigMap[name]
	result := {
		"msg": sprintf("envFrom names ConfigMap %s, which does not exist in %s", [name, input.metadata.namespace]),
		"rule": "team-configmap-exists",
	}
}
