package builtin_test

import (
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// otelConfig is a ConfigMap whose Bifrost otel plugin has the trace_type.
func otelConfig(traceType string) *rules.Object {
	return configMap("otel", nil, map[string]any{"config.json": `{"providers": {}, "plugins": [{"enabled": true, "name": "otel", "config": {"trace_type": "` + traceType + `"}}]}`})
}

func traceTypeFindings(e *rules.Engine, traceType string) []rules.Finding {
	obj := otelConfig(traceType)
	var out []rules.Finding
	for _, f := range e.NewRun(rules.NewMemIndex([]*rules.Object{obj})).Check(obj) {
		if f.Rule == "bifrost-otel-trace-type" {
			out = append(out, f)
		}
	}
	return out
}

func TestConfigApplies(t *testing.T) {
	cfg, err := rules.ParseConfig(".gjallar.yaml", []byte(`
rules:
  bifrost-otel-trace-type:
    severity: warning
    options:
      allowedTraceTypes: [otel, genai_extension]
  public-nlb-cloudfront:
    disabled: true
  bifrost-fsgroup:
    severity: "off"
ignore: ["vendor/**"]
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := rules.NewEngine(builtin.Rules(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Enabled("public-nlb-cloudfront") || e.Enabled("bifrost-fsgroup") || !e.Enabled("bifrost-providers-map") {
		t.Error("disabled rules still enabled, or the others not")
	}
	if got := traceTypeFindings(e, "genai_extension"); len(got) != 0 {
		t.Errorf("options not applied: genai_extension allowed but reported: %+v", got)
	}
	if got := traceTypeFindings(e, "vercel"); len(got) != 1 || got[0].Severity != rules.Warning {
		t.Errorf("severity override not applied: %+v", got)
	}
	if len(cfg.Ignore) != 1 {
		t.Errorf("ignore = %v", cfg.Ignore)
	}
	// The defaults of a fresh engine are untouched by another's config.
	fresh, _ := rules.NewEngine(builtin.Rules(), nil)
	if got := traceTypeFindings(fresh, "genai_extension"); len(got) != 1 || got[0].Severity != rules.Error {
		t.Errorf("defaults leaked between engines: %+v", got)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown rule", "rules:\n  bifrost-provider-map: {severity: error}\n", `.gjallar.yaml:2: unknown rule "bifrost-provider-map"`},
		{"bad severity", "rules:\n\n  bifrost-fsgroup:\n    severity: fatal\n", `.gjallar.yaml:3: rule bifrost-fsgroup: unknown severity "fatal"`},
		{"unknown option", "rules:\n  bifrost-otel-trace-type:\n    options:\n      allowed: [otel]\n", `.gjallar.yaml:4: rule bifrost-otel-trace-type options: unknown field "allowed"`},
		{"wrong option type", "rules:\n  model-provider-prefix:\n    options: {providers: inhouse}\n", `.gjallar.yaml:3: rule model-provider-prefix options:`},
		{"options on a rule without any", "rules:\n  bifrost-fsgroup:\n    options: {a: 1}\n", "rule bifrost-fsgroup takes no options"},
		{"unknown top-level key", "rulez: {}\n", `.gjallar.yaml: yaml: unmarshal errors:`},
		{"not yaml", "rules: [\n", ".gjallar.yaml: yaml: line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := rules.ParseConfig(".gjallar.yaml", []byte(c.yaml))
			if err == nil {
				_, err = rules.NewEngine(builtin.Rules(), cfg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEmptyConfig(t *testing.T) {
	cfg, err := rules.ParseConfig("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules.NewEngine(builtin.Rules(), cfg); err != nil {
		t.Fatal(err)
	}
}
