# A team's conftest policies for Deployments, written the way conftest reads
# them: package main, deny/violation/warn rules, strings or {"msg": ...}.
package main

# A plain string result: the finding's ID is main.deny, its line the object's.
deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s must set spec.template.spec.securityContext.runAsNonRoot", [input.metadata.name])
}

# A suffixed rule that an exception can lift.
deny_latest_tag contains result if {
	input.kind == "Deployment"
	some i, c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	result := {
		"msg": sprintf("container %q uses a :latest image; pin a version", [c.name]),
		"path": ["spec", "template", "spec", "containers", i, "image"],
	}
}

exception contains rules if {
	input.metadata.annotations["team.example.com/allow-latest"] == "true"
	rules := ["latest_tag"]
}

# Structured results with their own rule ID and a path as a string.
violation contains result if {
	input.kind == "Deployment"
	not input.spec.template.spec.containers[0].resources.limits.memory
	result := {
		"msg": "the first container has no memory limit; set resources.limits.memory",
		"rule": "memory-limit",
		"path": "spec.template.spec.containers[0].resources",
	}
}

warn contains result if {
	input.kind in {"Deployment", "ConfigMap"}
	not input.metadata.labels.team
	result := {"msg": sprintf("%s %s has no team label", [input.kind, input.metadata.name]), "rule": "team-label", "severity": "info", "path": "metadata"}
}

# Cross-object: the ConfigMaps a Deployment mounts must be in the inventory.
deny_missing_configmap contains result if {
	input.kind == "Deployment"
	ns := input.metadata.namespace
	some i, v in input.spec.template.spec.volumes
	name := v.configMap.name
	not data.inventory.namespace[ns].v1.ConfigMap[name]
	result := {
		"msg": sprintf("volume %q mounts ConfigMap %s/%s, which is not among the linted objects", [v.name, ns, name]),
		"path": ["spec", "template", "spec", "volumes", i, "configMap", "name"],
	}
}
