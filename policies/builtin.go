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
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aider"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
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

// builtinKinds are the kinds each built-in policy package can report on,
// as its rules test input.kind and input.apiVersion. When only built-in
// packages run, an object of none of their kinds is not evaluated at all:
// most objects are Deployments, Services and the like, and an evaluation
// that finds nothing still costs tens of microseconds and kilobytes per
// object. A user's package may look at any kind, so it turns this off.
var builtinKinds = map[string][]schema.GroupKind{
	"gjallar.builtin.endpoint_hostname": {
		{Group: "gateway.networking.k8s.io", Kind: "Gateway"},
		{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Kind: "GRPCRoute"},
		{Group: "gateway.networking.k8s.io", Kind: "TLSRoute"},
	},
	// ConfigMaps, and inputs without a kind: standalone config files.
	"gjallar.builtin.plaintext_secret": {rules.ConfigMapKind, bifrost.ConfigKind, aider.ConfigKind},
}

// evaluatedKinds is the union of the packages' kinds, or nil when some
// package may look at any kind.
func evaluatedKinds(packages []string) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, pkg := range packages {
		kinds, ok := builtinKinds[pkg]
		if !ok {
			return nil
		}
		for _, gk := range kinds {
			out[gk] = true
		}
	}
	return out
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
