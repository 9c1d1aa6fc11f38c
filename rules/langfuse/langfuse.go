// Package langfuse is what gjallar's rules know of Langfuse: where it
// ingests OpenTelemetry traces and what its web UI needs from the routes
// in front of it.
package langfuse

import (
	"net/url"
	"strings"
)

// Langfuse's OTLP paths: the base its SDKs append /v1/traces to, and the
// endpoint itself.
const (
	OTelBase   = "/api/public/otel"
	OTelTraces = "/api/public/otel/v1/traces"
)

// IngestionVersionHeader selects Langfuse's ingestion path.
const IngestionVersionHeader = "x-langfuse-ingestion-version"

// RootPaths are the root paths the Langfuse web UI (Next.js) still calls
// when it is served under a prefix.
var RootPaths = []string{"/_next", "/api/auth", "/api/public"}

// IsExport reports whether an OTLP exporter sends to Langfuse: its
// collector URL is Langfuse's OTLP path or a host named langfuse, or it
// sends Langfuse's own headers.
func IsExport(collectorURL string, headers map[string]any) bool {
	raw := strings.TrimSpace(collectorURL)
	if strings.Contains(raw, OTelBase) {
		return true
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	if u, err := url.Parse(raw); err == nil && strings.Contains(strings.ToLower(strings.Split(u.Hostname(), ".")[0]), "langfuse") {
		return true
	}
	for name := range headers {
		if strings.HasPrefix(strings.ToLower(name), "x-langfuse-") {
			return true
		}
	}
	return false
}
