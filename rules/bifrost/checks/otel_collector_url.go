package checks

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/gateway"
	"github.com/gjallar-dev/gjallar/rules/langfuse"
)

// BifrostOtelCollectorURL checks that the otel plugin's collector_url reaches
// an OTLP endpoint, Langfuse's in particular.
var BifrostOtelCollectorURL = &rules.Rule{
	ID:       "bifrost-otel-collector-url",
	Summary:  "A Bifrost otel collector_url must reach the OTLP endpoint (Langfuse: /api/public/otel/v1/traces over http)",
	Severity: rules.Error,
	Rationale: "With `protocol: http` Bifrost posts spans to collector_url exactly as written, without " +
		"appending /v1/traces as OpenTelemetry SDKs do. Langfuse ingests at " +
		"`/api/public/otel/v1/traces`; posting to the base `/api/public/otel` gets a 404 and every trace " +
		"is lost. Write the full path, or route the base path through an HTTPRoute whose URLRewrite " +
		"ReplacePrefixMatch turns `/api/public/otel` into `/api/public/otel/v1/traces` (the runbook's " +
		"workaround; the route must serve the URL's host). Sending the full path through that rewrite " +
		"doubles it, which is an error too. An http collector_url needs its http:// or https:// " +
		"scheme; a grpc one is host:port with no path, and Langfuse does not accept gRPC at all.",
	Kinds: bifrost.ConfigKinds,
	Check: checkOtelCollectorURL,
}

func checkOtelCollectorURL(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		for _, p := range cfg.OtelProfiles() {
			raw, _ := p.Config["collector_url"].(string)
			raw = strings.TrimSpace(raw)
			if raw == "" || strings.HasPrefix(raw, "env.") {
				continue
			}
			at := p.Path.Child("collector_url")
			var problem string
			switch strings.ToLower(rules.LookupString(p.Config, "protocol")) {
			case "http":
				problem = httpCollectorProblem(c, obj.Namespace(), raw)
			case "grpc":
				problem = grpcCollectorProblem(raw)
			}
			if problem != "" {
				c.ReportIn(cfg.JSONDoc, at, rules.Finding{Message: problem})
			}
		}
	}
}

func httpCollectorProblem(c *rules.Context, ns, raw string) string {
	if !strings.Contains(raw, "://") {
		fix := "http://host:port/path"
		if u, err := url.Parse("http://" + raw); err == nil {
			fix = displayURL(u)
		}
		return fmt.Sprintf("http collector_url has no scheme, so Bifrost cannot post spans to it; write %q", fix)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "http collector_url is not a URL, so Bifrost cannot post spans to it; write http://host:port/path"
	}
	i := strings.Index(u.Path, langfuse.OTelBase)
	if i < 0 {
		return "" // not Langfuse: whatever OTLP/HTTP path that collector serves
	}
	want := *u
	want.Path = u.Path[:i] + langfuse.OTelTraces
	rw := gateway.ServingRuleFor(c, ns, u)
	arrives := u.Path
	if rw != nil {
		arrives = rw.Apply(u.Path)
	}
	if strings.HasSuffix(strings.TrimSuffix(arrives, "/"), langfuse.OTelTraces) {
		return ""
	}
	if rw != nil && rw.Rewrite != nil {
		fix := "a path the route turns into " + langfuse.OTelTraces
		if rw.Rewrite.Type == "ReplacePrefixMatch" && strings.HasSuffix(strings.TrimSuffix(rw.Rewrite.Value, "/"), langfuse.OTelTraces) {
			base := *u
			base.Path = strings.TrimSuffix(rw.Prefix, "/")
			fix = fmt.Sprintf("%q, which the route completes", displayURL(&base))
		}
		return fmt.Sprintf("HTTPRoute %s rewrites %s to %s, so this collector_url reaches Langfuse as %s and gets a 404; write %s",
			rw.Route, rw.Prefix, rw.Rewrite.Value, arrives, fix)
	}
	return fmt.Sprintf("collector_url path %s is not Langfuse's OTLP endpoint and Bifrost posts to it as written, so Langfuse answers 404 and traces are lost; write %q",
		u.Path, displayURL(&want))
}

func grpcCollectorProblem(raw string) string {
	// Parse rather than cut: user info and query strings can hold
	// credentials, and none of them may reach a message.
	withScheme := raw
	if !strings.Contains(raw, "://") {
		withScheme = "grpc://" + raw
	}
	u, err := url.Parse(withScheme)
	if err != nil || u.Host == "" {
		return ""
	}
	host, path := u.Host, u.Path
	if strings.Contains(raw, "@") {
		host = "host:port" // whatever precedes an @ may be a password
	}
	if strings.Contains(path, langfuse.OTelBase) || strings.Contains(strings.ToLower(strings.Split(u.Hostname(), ".")[0]), "langfuse") {
		base := path
		if i := strings.Index(path, langfuse.OTelBase); i >= 0 {
			base = path[:i]
		}
		return fmt.Sprintf("protocol grpc cannot reach Langfuse, which takes OTLP over HTTP only, so no trace arrives; set \"protocol\": \"http\" and collector_url %q",
			"http://"+host+strings.TrimSuffix(base, "/")+langfuse.OTelTraces)
	}
	if strings.Trim(path, "/") != "" || u.RawQuery != "" {
		return fmt.Sprintf("grpc collector_url has a path or query, but a gRPC exporter dials host:port and has no use for one; write %q", host)
	}
	return ""
}

// displayURL renders a URL for a message without credentials or query.
func displayURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.Fragment = nil, "", ""
	return v.String()
}
