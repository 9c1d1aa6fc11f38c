package rules

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema/bifrost-config.schema.json
var bifrostSchemaJSON []byte

// BifrostConfigSchema validates Bifrost configs against gjallar's schema.
var BifrostConfigSchema = &Rule{
	ID:       "bifrost-config-schema",
	Summary:  "A Bifrost config must be valid JSON matching Bifrost's config shape",
	Severity: Error,
	Rationale: "Bifrost refuses to start on a config.json that is not JSON, and ignores or rejects " +
		"fields of the wrong type (a weight written as a string, models as a string instead of a " +
		"list, a misspelled top-level key). gjallar checks each embedded or standalone config " +
		"against a JSON Schema of Bifrost's config, embedded in the binary " +
		"(`gjallar schema` prints it).",
	Kinds: bifrostConfigKinds,
	Check: checkBifrostConfigSchema,
	// Compiling the schema takes ~20 ms, as long as checking a hundred
	// objects.
	Warm: func() { BifrostSchema() },
}

// maxSchemaFindings keeps one badly broken config from flooding the output.
const maxSchemaFindings = 20

var (
	bifrostSchemaOnce sync.Once
	bifrostSchema     *jsonschema.Schema
	bifrostSchemaErr  error
	schemaPrinter     = message.NewPrinter(language.English)
)

// BifrostSchema returns the compiled schema; it is compiled once per
// process.
func BifrostSchema() (*jsonschema.Schema, error) {
	bifrostSchemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(bifrostSchemaJSON))
		if err != nil {
			bifrostSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		const url = "https://gjallar.dev/schema/bifrost-config.json"
		if err := c.AddResource(url, doc); err != nil {
			bifrostSchemaErr = err
			return
		}
		bifrostSchema, bifrostSchemaErr = c.Compile(url)
	})
	return bifrostSchema, bifrostSchemaErr
}

// BifrostSchemaJSON is the schema's source, for `gjallar schema`.
func BifrostSchemaJSON() []byte { return bifrostSchemaJSON }

func checkBifrostConfigSchema(c *Context, obj *Object) {
	sch, err := BifrostSchema()
	if err != nil {
		panic(fmt.Sprintf("embedded Bifrost schema does not compile: %v", err))
	}
	for _, cfg := range obj.BifrostConfigs() {
		if cfg.Err != nil {
			line, col := LineCol(cfg.Text, cfg.Err.Offset)
			c.ReportConfig(cfg, nil, Finding{Message: fmt.Sprintf(
				"%s is not valid JSON (line %d, column %d of the JSON: %s), so Bifrost will not start with it",
				configName(cfg), line, col, cfg.Err.Msg)})
			continue
		}
		verr, ok := sch.Validate(cfg.Doc).(*jsonschema.ValidationError)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		n := 0
		for _, leaf := range schemaLeaves(verr) {
			at := Path(leaf.InstanceLocation)
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
			c.ReportConfig(cfg, at, Finding{Message: fmt.Sprintf(
				"%s does not match Bifrost's config schema at %s: %s", configName(cfg), where, msg)})
		}
	}
}

// schemaLeaves flattens a validation error to the errors that have no
// causes: those name the exact field that is wrong.
func schemaLeaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, schemaLeaves(c)...)
	}
	return out
}

func configName(cfg *BifrostConfig) string {
	if len(cfg.Path) == 0 {
		return "the config"
	}
	return cfg.Path[len(cfg.Path)-1]
}
