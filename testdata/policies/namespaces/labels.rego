package k8s.labels

warn contains msg if {
	not input.metadata.labels
	msg := sprintf("%s %s has no labels", [input.kind, input.metadata.name])
}
