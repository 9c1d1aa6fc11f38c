package lint

import (
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	bifrostchecks "github.com/gjallar-dev/gjallar/rules/bifrost/checks"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// TestEmbeddedConfigColumns: columns count characters, in the YAML and
// inside the embedded JSON alike, and an indentation indicator ("|2")
// is honoured.
func TestEmbeddedConfigColumns(t *testing.T) {
	cases := []struct {
		name, yaml string
		line, col  int
	}{
		{"multi-byte before the key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.json: |\n    {\"名前名前\": 1, \"providers\": []}\n", 6, 17},
		{"indentation indicator", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.json: |2\n      {\"providers\": []}\n", 6, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Load([]string{"-"}, strings.NewReader(c.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := rules.NewEngine(builtin.Rules(), nil)
			for _, f := range Check(e, in).Findings {
				if f.Rule == bifrostchecks.BifrostProvidersMap.ID {
					if f.Line != c.line || f.Column != c.col {
						t.Errorf("at %d:%d, want %d:%d", f.Line, f.Column, c.line, c.col)
					}
					return
				}
			}
			t.Fatal("no providers finding")
		})
	}
}
