package rules

import (
	"strings"
	"testing"
)

func TestConfigApplies(t *testing.T) {
	cfg, err := ParseConfig(".gjallar.yaml", []byte(`
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
	e, err := NewEngine(Builtin(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Enabled("public-nlb-cloudfront") || e.Enabled("bifrost-fsgroup") || !e.Enabled("bifrost-providers-map") {
		t.Error("disabled rules still enabled, or the others not")
	}
	opts := e.byID["bifrost-otel-trace-type"].options.(*otelTraceTypeOptions)
	if strings.Join(opts.AllowedTraceTypes, ",") != "otel,genai_extension" {
		t.Errorf("options = %v", opts.AllowedTraceTypes)
	}
	if e.byID["bifrost-otel-trace-type"].severity != Warning {
		t.Error("severity override not applied")
	}
	if len(cfg.Ignore) != 1 {
		t.Errorf("ignore = %v", cfg.Ignore)
	}
	// The defaults of a fresh engine are untouched by another's config.
	fresh, _ := NewEngine(Builtin(), nil)
	if got := fresh.byID["bifrost-otel-trace-type"].options.(*otelTraceTypeOptions).AllowedTraceTypes; len(got) != 1 {
		t.Errorf("defaults leaked between engines: %v", got)
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
			cfg, err := ParseConfig(".gjallar.yaml", []byte(c.yaml))
			if err == nil {
				_, err = NewEngine(Builtin(), cfg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEmptyConfig(t *testing.T) {
	cfg, err := ParseConfig("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEngine(Builtin(), cfg); err != nil {
		t.Fatal(err)
	}
}
