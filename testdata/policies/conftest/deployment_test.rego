package main

test_root_denied if {
	deny["Deployment web must set spec.template.spec.securityContext.runAsNonRoot"] with input as {"kind": "Deployment", "metadata": {"name": "web"}}
}

test_missing_configmap_denied if {
	d := {"kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}, "spec": {"template": {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "web-config"}}]}}}}
	count(deny_missing_configmap) == 1 with input as d with data.inventory as {"namespace": {}}
	count(deny_missing_configmap) == 0 with input as d with data.inventory as {"namespace": {"apps": {"v1": {"ConfigMap": {"web-config": {}}}}}}
}
