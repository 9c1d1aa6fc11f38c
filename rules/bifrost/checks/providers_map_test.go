package checks

import (
	"encoding/json"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

func TestProvidersListToMapKeepsFormatting(t *testing.T) {
	cases := []struct{ in, want string }{
		{
			in: `{
  "providers": [
    {
      "name": "openai",
      "keys": [{"name": "k", "weight": 1}]
    },
    {"keys": [], "provider": "anthropic"}
  ],
  "plugins": []
}`,
			want: `{
  "providers": {
    "openai": {
      "keys": [{"name": "k", "weight": 1}]
    },
    "anthropic": {"keys": []}
  },
  "plugins": []
}`,
		},
		{in: `{"providers":[{"name":"ollama"}]}`, want: `{"providers":{"ollama": {}}}`},
		{in: `{"providers": [ {"a": 1, "name": "x", "b": 2} ]}`, want: `{"providers": { "x": {"a": 1, "b": 2} }}`},
	}
	for _, c := range cases {
		cfg := bifrost.Configs(rules.NewFileObject(bifrost.ConfigFile, "config.json", c.in, nil))[0]
		names, ok := providerListNames(cfg.Root()["providers"].([]any))
		if !ok {
			t.Fatalf("%s: names not found", c.in)
		}
		got := providersListToMap(cfg, names)
		if got != c.want {
			t.Errorf("got\n%s\nwant\n%s", got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("fixed config is not JSON: %s", got)
		}
	}
}

func TestProviderListNamesAmbiguous(t *testing.T) {
	for _, in := range []string{
		`[{"name": "a"}, {"name": "a"}]`,
		`[{"name": "a", "provider": "b"}]`,
		`[{"keys": []}]`,
		`["openai"]`,
		`[{"name": ""}]`,
	} {
		var list []any
		if err := json.Unmarshal([]byte(in), &list); err != nil {
			t.Fatal(err)
		}
		if _, ok := providerListNames(list); ok {
			t.Errorf("%s: conversion claimed unambiguous", in)
		}
	}
}

func TestProvidersFindingCarriesFixOnlyWhenUnambiguous(t *testing.T) {
	e, _ := rules.NewEngine([]*rules.Rule{BifrostProvidersMap}, nil)
	for _, c := range []struct {
		text string
		fix  bool
	}{
		{`{"providers": [{"name": "openai", "keys": []}]}`, true},
		{`{"providers": [{"name": "openai"}, {"name": "openai"}]}`, false},
	} {
		obj := configMap("c", nil, map[string]any{"config.json": c.text})
		for _, f := range e.NewRun(rules.NewMemIndex(nil)).Check(obj) {
			if f.Rule == BifrostProvidersMap.ID && (f.Fix != nil) != c.fix {
				t.Errorf("%s: fix = %v, want %v", c.text, f.Fix != nil, c.fix)
			}
		}
	}
}
