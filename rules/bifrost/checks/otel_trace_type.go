package checks

import (
	"fmt"
	"slices"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostOtelTraceType requires the trace format Langfuse ingests.
var BifrostOtelTraceType = &rules.Rule{
	ID:       "bifrost-otel-trace-type",
	Summary:  "An enabled Bifrost otel plugin must set trace_type \"otel\"",
	Severity: rules.Error,
	Rationale: "Bifrost's otel plugin emits spans in the format named by `trace_type`. Langfuse only " +
		"shows traces sent as `otel`; with `genai_extension` or no trace_type the collector accepts " +
		"the export and nothing appears. Set `\"trace_type\": \"otel\"` in the plugin config (and in " +
		"every entry of `profiles`). Option `allowedTraceTypes` changes the accepted values.",
	Kinds:   bifrost.ConfigKinds,
	Options: func() any { return &otelTraceTypeOptions{AllowedTraceTypes: []string{"otel"}} },
	Check:   checkOtelTraceType,
}

type otelTraceTypeOptions struct {
	AllowedTraceTypes []string `json:"allowedTraceTypes"`
}

func checkOtelTraceType(c *rules.Context, obj *rules.Object) {
	allowed := c.Options.(*otelTraceTypeOptions).AllowedTraceTypes
	want := quotedList(allowed)
	for _, cfg := range bifrost.Configs(obj) {
		for _, p := range cfg.OtelProfiles() {
			tt, present := p.Config["trace_type"]
			s, isString := tt.(string)
			switch {
			case !present:
				c.ReportIn(cfg.JSONDoc, p.Path, rules.Finding{Message: fmt.Sprintf(
					"otel plugin has no trace_type, so its traces never show up in Langfuse; add \"trace_type\": %s", want)})
			case !isString || !slices.Contains(allowed, s):
				c.ReportIn(cfg.JSONDoc, p.Path.Child("trace_type"), rules.Finding{Message: fmt.Sprintf(
					"otel plugin trace_type is %s, which Langfuse does not ingest, so traces are silently lost; set \"trace_type\": %s",
					rules.DescribeJSON(tt), want)})
			}
		}
	}
}
