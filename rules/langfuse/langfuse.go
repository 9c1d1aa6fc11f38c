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

// RootPaths are the root paths a Langfuse web UI built for "/" still uses
// when a route serves it under a prefix it strips: its scripts (/_next),
// NextAuth (/api/auth), every data call (tRPC at /api/trpc) and its page
// routes (langfuse/langfuse v4.16.0 web/src/utils/api.ts getBaseUrl,
// web/src/server/auth.ts pages, web/src/pages/*). /api/public serves SDKs
// and OTLP, which can use the prefixed URL.
var RootPaths = []string{"/_next", "/api/auth", "/api/trpc", "/auth", "/project", "/organization", "/setup", "/onboarding"}

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

// IsWebImage reports whether an image is Langfuse's web server
// (langfuse/langfuse, and not langfuse/langfuse-worker).
func IsWebImage(image string) bool {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return strings.HasSuffix(strings.ToLower(ref), "langfuse/langfuse")
}
