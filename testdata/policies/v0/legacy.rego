# Rego v0 syntax, as conftest policies were written before OPA 1.0.
package main

deny[msg] {
	input.kind == "Deployment"
	not input.metadata.labels.app
	msg = sprintf("Deployment %s has no app label", [input.metadata.name])
}
