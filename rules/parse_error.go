package rules

// ParseError reports input that cannot be read. Most parse errors come from
// the loader (a file or document that is not YAML or JSON), which emits
// findings with this ID; the check here catches objects that parse but whose
// pod template does not decode into Kubernetes types.
var ParseError = &Rule{
	ID:       "parse-error",
	Summary:  "A file, document or object that cannot be read",
	Severity: Error,
	Rationale: "gjallar could not read this input, so none of its rules ran on it, and kubectl or the " +
		"API server would reject it too. The message names the line and what the parser expected.",
	Kinds: PodTemplateKinds,
	Check: func(c *Context, obj *Object) {
		if _, err := obj.PodTemplate(); err != nil {
			c.Reportf(podTemplatePaths[obj.GroupKind()], "%v", err)
		}
	},
}
