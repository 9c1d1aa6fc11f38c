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
	Summary:  "An enabled Bifrost otel plugin must set the deployment's standard trace_type (default \"otel\")",
	Severity: rules.Error,
	Rationale: "This deployment standardises the otel plugin's `trace_type` on \"otel\": the runbook's " +
		"experience is that with genai_extension traces never reached Langfuse. Upstream has moved: " +
		"Bifrost's config schema allowed only \"otel\" (and required it) from v1.3.0 to v1.4.22, and lists " +
		"\"genai_extension\", \"vercel\" and \"open_inference\" from v1.4.23; Bifrost's Helm chart " +
		"refuses \"otel\" from 2.1.0-prerelease2 (maximhq/bifrost transports/config.schema.json, " +
		"helm-charts/bifrost/values.schema.json). Bifrost only logs a schema mismatch, and through " +
		"v1.5.11 the plugin stores the value without using it, so the spans it emits are the same " +
		"whatever it says (plugins/otel/main.go). The rule enforces the deployment's standard, not an " +
		"upstream requirement: change the accepted values with option `allowedTraceTypes` (a team on " +
		"Bifrost's chart >= 2.1 would allow genai_extension). Checked on every enabled profile of every " +
		"enabled otel plugin.",
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
					"otel plugin has no trace_type, but this deployment's standard is %s (rule option allowedTraceTypes; the runbook saw traces missing from Langfuse otherwise); add \"trace_type\": %s", want, firstOf(allowed))})
			case !isString || !slices.Contains(allowed, s):
				c.ReportIn(cfg.JSONDoc, p.Path.Child("trace_type"), rules.Finding{Message: fmt.Sprintf(
					"otel plugin trace_type is %s, but this deployment's standard is %s (rule option allowedTraceTypes; the runbook saw traces missing from Langfuse otherwise); set \"trace_type\": %s",
					rules.DescribeJSON(tt), want, firstOf(allowed))})
			}
		}
	}
}

func firstOf(allowed []string) string {
	if len(allowed) == 0 {
		return `""`
	}
	return fmt.Sprintf("%q", allowed[0])
}
