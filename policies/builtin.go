package policies

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gjallar-dev/gjallar/rules"
)

// builtinFS holds gjallar's own policies and their unit tests.
//
//go:embed builtin/*.rego
var builtinFS embed.FS

type regoFile struct {
	name, text string
}

func builtinFiles(tests bool) ([]regoFile, error) {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil, err
	}
	var out []regoFile
	for _, e := range entries {
		if !tests && strings.HasSuffix(e.Name(), "_test.rego") {
			continue
		}
		name := path.Join("builtin", e.Name())
		b, err := builtinFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, regoFile{name: name, text: string(b)})
	}
	return out, nil
}

// HostnameOptions configures endpoint-hostname.
type HostnameOptions struct {
	// OwnedDomains are the DNS zones the company owns; when set, a hostname
	// must be one of them or a name under one.
	OwnedDomains []string `json:"ownedDomains"`
}

// builtinOptions gives each built-in policy that takes options its
// defaults. The engine validates a config's options against them; the
// policies read the decoded options at data.gjallar.options[<rule ID>].
var builtinOptions = map[string]func() any{
	"endpoint-hostname": func() any { return &HostnameOptions{OwnedDomains: []string{}} },
}

// builtinIDs are the IDs of the built-in policies, reserved even when they
// are not loaded.
var builtinIDs = []string{"endpoint-hostname", "plaintext-secret"}

// optionsStore holds data.gjallar.options: each built-in policy's options,
// from cfg or their defaults.
func optionsStore(cfg *rules.Config) (storage.Store, error) {
	options := map[string]any{}
	for id, defaults := range builtinOptions {
		v := defaults()
		if cfg != nil {
			if rc, ok := cfg.Rules[id]; ok && rc.Options.Kind != 0 {
				if err := rc.DecodeOptions(v); err != nil {
					return nil, fmt.Errorf("%s:%d: rule %s options: %w", cfg.Name, rc.Options.Line, id, err)
				}
			}
		}
		// Through JSON, so the policy sees the same field names as the config.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		options[id] = doc
	}
	data := map[string]any{"gjallar": map[string]any{"options": options}}
	return inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false)), nil
}
