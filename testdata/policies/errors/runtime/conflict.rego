# deny_conflict fails at evaluation (a complete rule with two values); the
# other rule of the package must still report.
package main

mode := "a" if input.kind == "ConfigMap"

mode := "b" if input.metadata.name == "twice"

deny_conflict contains msg if {
	mode == "a"
	msg := "never reached"
}

warn_still_runs contains msg if {
	input.kind == "ConfigMap"
	msg := sprintf("ConfigMap %s checked", [input.metadata.name])
}
