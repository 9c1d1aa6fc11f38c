package checks

import (
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostConfigSchema validates Bifrost configs against gjallar's schema.
var BifrostConfigSchema = &rules.Rule{
	ID:       "bifrost-config-schema",
	Summary:  "A Bifrost config must be valid JSON matching Bifrost's config shape",
	Severity: rules.Error,
	Rationale: "Bifrost refuses to start on a config.json that is not JSON, and ignores or rejects " +
		"fields of the wrong type (a weight written as a string, models as a string instead of a " +
		"list, a misspelled top-level key). gjallar checks each embedded or standalone config " +
		"against a JSON Schema of Bifrost's config, embedded in the binary " +
		"(`gjallar schema` prints it).",
	Kinds: bifrost.ConfigKinds,
	Check: checkBifrostConfigSchema,
	// Compiling the schema takes ~20 ms, as long as checking a hundred
	// objects.
	Warm: func() { bifrost.Schema() },
}

// maxSchemaFindings keeps one badly broken config from flooding the output.
const maxSchemaFindings = 20

var schemaPrinter = message.NewPrinter(language.English)

func checkBifrostConfigSchema(c *rules.Context, obj *rules.Object) {
	sch, err := bifrost.Schema()
	if err != nil {
		panic(fmt.Sprintf("embedded Bifrost schema does not compile: %v", err))
	}
	for _, cfg := range bifrost.Configs(obj) {
		if cfg.Err != nil {
			line, col := rules.LineCol(cfg.Text, cfg.Err.Offset)
			c.ReportIn(cfg.JSONDoc, nil, rules.Finding{Message: fmt.Sprintf(
				"%s is not valid JSON (line %d, column %d of the JSON: %s), so Bifrost will not start with it",
				cfg.Name(), line, col, cfg.Err.Msg)})
			continue
		}
		verr, ok := sch.Validate(cfg.Doc).(*jsonschema.ValidationError)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		n := 0
		for _, leaf := range bifrost.LeafErrors(verr) {
			at := rules.Path(leaf.InstanceLocation)
			if _, isType := leaf.ErrorKind.(*kind.Type); isType && len(at) == 1 && at[0] == "providers" {
				if _, isList := cfg.Root()["providers"].([]any); isList {
					continue // bifrost-providers-map reports this, with a fix
				}
			}
			if extra, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok && len(extra.Properties) > 0 {
				at = at.Child(extra.Properties[0]) // point at the unknown key itself
			}
			msg := leaf.ErrorKind.LocalizedString(schemaPrinter)
			key := at.Pointer() + "\x00" + msg
			if seen[key] {
				continue
			}
			seen[key] = true
			if n++; n > maxSchemaFindings {
				break
			}
			where := at.String()
			if where == "" {
				where = "the top level"
			}
			c.ReportIn(cfg.JSONDoc, at, rules.Finding{Message: fmt.Sprintf(
				"%s does not match Bifrost's config schema at %s: %s", cfg.Name(), where, msg)})
		}
	}
}
