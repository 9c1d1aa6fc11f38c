# gjallar's core checks written as conftest policies, for the lint benchmark
# (bench/run.sh): the same checks as far as one document at a time allows.
# conftest sees no other file, so a config hash can only be checked for
# presence, not freshness, and the fsGroup rule cannot follow a Deployment
# to its PersistentVolumeClaim: it looks at the claim volume itself.
package main

import rego.v1

bifrost_configs contains cfg if {
	input.kind == "ConfigMap"
	some key, text in input.data
	endswith(key, ".json")
	cfg := json.unmarshal(text)
	is_object(cfg)
	cfg.providers
}

# bifrost-providers-map
deny contains msg if {
	some cfg in bifrost_configs
	is_array(cfg.providers)
	msg := sprintf("ConfigMap %s: Bifrost providers is a list; write it as an object keyed by provider name", [input.metadata.name])
}

# bifrost-otel-trace-type
deny contains msg if {
	some cfg in bifrost_configs
	some plugin in cfg.plugins
	plugin.name == "otel"
	plugin.enabled == true
	object.get(plugin, ["config", "trace_type"], "") != "otel"
	msg := sprintf("ConfigMap %s: otel plugin trace_type must be \"otel\"", [input.metadata.name])
}

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

pod_spec := input.spec.template.spec if input.kind in workload_kinds

bifrost_image(image) if regex.match(`(^|/)bifrost(:|@|$)`, image)

# bifrost-fsgroup
deny contains msg if {
	some c in pod_spec.containers
	bifrost_image(c.image)
	some v in pod_spec.volumes
	v.persistentVolumeClaim
	not pod_spec.securityContext.fsGroup
	msg := sprintf("%s %s: Bifrost with a PersistentVolumeClaim needs securityContext.fsGroup", [input.kind, input.metadata.name])
}

# public-nlb-cloudfront
lb_annotations := input.spec.infrastructure.annotations if input.kind == "Gateway"

lb_annotations := input.metadata.annotations if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
}

deny contains msg if {
	lb_annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
	not startswith(object.get(lb_annotations, "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists", ""), "pl-")
	msg := sprintf("%s %s: an internet-facing load balancer must only admit CloudFront's prefix list", [input.kind, input.metadata.name])
}

# model-provider-prefix
providers := {"openai", "anthropic", "bedrock", "cohere", "azure", "vertex", "mistral", "ollama", "groq", "gemini", "openrouter", "vllm"}

model_var(name) if name == "MODEL"

model_var(name) if endswith(name, "_MODEL")

model_var(name) if endswith(name, "_MODEL_NAME")

talks_to_bifrost(c) if {
	some e in c.env
	e.name == "OPENAI_BASE_URL"
	contains(e.value, "bifrost")
}

deny contains msg if {
	some c in pod_spec.containers
	talks_to_bifrost(c)
	some e in c.env
	model_var(e.name)
	not providers[split(e.value, "/")[0]]
	msg := sprintf("%s %s: %s %q needs a provider/ prefix Bifrost knows", [input.kind, input.metadata.name, e.name, e.value])
}

# config-rollout-hash (presence only)
deny contains msg if {
	some v in pod_spec.volumes
	v.configMap
	not input.spec.template.metadata.annotations["gjallar.dev/config-hash"]
	msg := sprintf("%s %s: reads ConfigMap %s but its pod template has no gjallar.dev/config-hash", [input.kind, input.metadata.name, v.configMap.name])
}
