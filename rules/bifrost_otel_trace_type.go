package rules

import (
	"fmt"
	"slices"
	"strings"
)

// BifrostOtelTraceType requires the trace format Langfuse ingests.
var BifrostOtelTraceType = &Rule{
	ID:       "bifrost-otel-trace-type",
	Summary:  "An enabled Bifrost otel plugin must set trace_type \"otel\"",
	Severity: Error,
	Rationale: "Bifrost's otel plugin emits spans in the format named by `trace_type`. Langfuse only " +
		"shows traces sent as `otel`; with `genai_extension` or no trace_type the collector accepts " +
		"the export and nothing appears. Set `\"trace_type\": \"otel\"` in the plugin config (and in " +
		"every entry of `profiles`). Option `allowedTraceTypes` changes the accepted values.",
	Kinds:   bifrostConfigKinds,
	Options: func() any { return &otelTraceTypeOptions{AllowedTraceTypes: []string{"otel"}} },
	Check:   checkOtelTraceType,
}

type otelTraceTypeOptions struct {
	AllowedTraceTypes []string `json:"allowedTraceTypes"`
}

func checkOtelTraceType(c *Context, obj *Object) {
	allowed := c.Options.(*otelTraceTypeOptions).AllowedTraceTypes
	want := quotedList(allowed)
	for _, cfg := range obj.BifrostConfigs() {
		for _, p := range OtelProfiles(cfg) {
			tt, present := p.Config["trace_type"]
			s, isString := tt.(string)
			switch {
			case !present:
				c.ReportConfig(cfg, p.Path, Finding{Message: fmt.Sprintf(
					"otel plugin has no trace_type, so its traces never show up in Langfuse; add \"trace_type\": %s", want)})
			case !isString || !slices.Contains(allowed, s):
				c.ReportConfig(cfg, p.Path.Child("trace_type"), Finding{Message: fmt.Sprintf(
					"otel plugin trace_type is %s, which Langfuse does not ingest, so traces are silently lost; set \"trace_type\": %s",
					describeJSON(tt), want)})
			}
		}
	}
}

// OtelProfile is one otel exporter config: the plugin's config, or one entry
// of its profiles list.
type OtelProfile struct {
	Config map[string]any
	Path   Path // inside the Bifrost config
}

// OtelProfiles lists the exporter configs of every otel plugin that is not
// disabled.
func OtelProfiles(cfg *BifrostConfig) []OtelProfile {
	var out []OtelProfile
	for i, p := range LookupList(cfg.Root(), "plugins") {
		plugin, _ := p.(map[string]any)
		if !strings.EqualFold(LookupString(plugin, "name"), "otel") || plugin["enabled"] == false {
			continue
		}
		conf := LookupMap(plugin, "config")
		at := P("plugins", i, "config")
		if conf == nil {
			out = append(out, OtelProfile{Config: map[string]any{}, Path: P("plugins", i)})
			continue
		}
		if profiles, ok := conf["profiles"].([]any); ok {
			for j, prof := range profiles {
				if m, ok := prof.(map[string]any); ok && m["enabled"] != false {
					out = append(out, OtelProfile{Config: m, Path: at.Child("profiles", j)})
				}
			}
			continue
		}
		out = append(out, OtelProfile{Config: conf, Path: at})
	}
	return out
}

// describeJSON renders a decoded value for a message; strings are quoted.
func describeJSON(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%v", v)
}
