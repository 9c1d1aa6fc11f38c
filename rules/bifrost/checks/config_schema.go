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
	Rationale: "Bifrost refuses to start on a config.json that is not JSON. It validates the config " +
		"against its schema but only logs a mismatch (\"config validation failed\") and goes on, while " +
		"decoding into its Go types fails on a value of the wrong JSON type, a weight written as a " +
		"string or models as a string instead of a list (maximhq/bifrost " +
		"transports/bifrost-http/lib/config.go at v1.5.11). gjallar checks each embedded or standalone " +
		"config against a JSON Schema of Bifrost's config (the top level as of v1.5.11 plus the newer " +
		"agents and proxy_config), embedded in the binary (`gjallar schema` prints it): a value of the " +
		"wrong type, or outside the values a setting takes, is an error; what Bifrost only logs (an " +
		"unknown key, which it ignores, a missing field, null where a list belongs, which Go reads as " +
		"empty) is a warning.",
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
			sev, effect := schemaEffect(leaf.ErrorKind)
			c.ReportIn(cfg.JSONDoc, at, rules.Finding{Severity: sev, Message: fmt.Sprintf(
				"%s does not match Bifrost's config schema at %s: %s; %s", cfg.Name(), where, msg, effect)})
		}
	}
}

// schemaEffect says how Bifrost takes a schema mismatch: a value of another
// JSON type fails Go's decoding (null excepted, which it reads as empty),
// a value outside an enum fails the feature that reads it; anything else
// Bifrost only logs.
func schemaEffect(k jsonschema.ErrorKind) (rules.Severity, string) {
	switch k := k.(type) {
	case *kind.Type:
		if k.Got != "null" {
			return rules.Error, "Bifrost cannot decode it, so loading the config (or the plugin) fails"
		}
	case *kind.Enum, *kind.Const:
		return rules.Error, "Bifrost does not know that value, so what reads it fails"
	case *kind.AdditionalProperties:
		return rules.Warning, "Bifrost ignores the key (only logging the mismatch), so whatever it was meant to set is not set"
	}
	return rules.Warning, "Bifrost only logs the mismatch and starts"
}
