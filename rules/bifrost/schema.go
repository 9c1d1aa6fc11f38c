package bifrost

import (
	"bytes"
	_ "embed"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/bifrost-config.schema.json
var schemaJSON []byte

var (
	schemaOnce sync.Once
	compiled   *jsonschema.Schema
	schemaErr  error
)

// Schema returns gjallar's JSON Schema of Bifrost's config, compiled once
// per process.
func Schema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		const url = "https://gjallar.dev/schema/bifrost-config.json"
		if err := c.AddResource(url, doc); err != nil {
			schemaErr = err
			return
		}
		compiled, schemaErr = c.Compile(url)
	})
	return compiled, schemaErr
}

// SchemaJSON is the schema's source, for `gjallar schema`.
func SchemaJSON() []byte { return schemaJSON }

// LeafErrors flattens a validation error to the errors that have no
// causes: those name the exact field that is wrong.
func LeafErrors(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, LeafErrors(c)...)
	}
	return out
}
