// Package checks holds the rules that guard what Langfuse receives and serves.
package checks

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/langfuse"
)

// LangfuseOtelHeaders checks the credentials and ingestion version the otel
// plugin sends to Langfuse. Its messages never quote the Authorization
// value: even a malformed one, or a placeholder, may hold real keys.
var LangfuseOtelHeaders = &rules.Rule{
	ID:       "langfuse-otel-headers",
	Summary:  "Bifrost's otel headers for Langfuse need Basic base64(pk-lf-...:sk-lf-...) auth and an ingestion version of at most 4",
	Severity: rules.Error,
	Rationale: "Langfuse authenticates OTLP exports with `Authorization: Basic base64(publicKey:secretKey)`, " +
		"public key (pk-lf-...) first, the scheme written `Basic` exactly (langfuse/langfuse v4.16.0 " +
		"web/src/features/public-api/server/apiAuth.ts). A placeholder left from the runbook " +
		"(`Basic <BASE64(pk:sk)>`), text that is not base64, a pair without the colon, the keys swapped, " +
		"or a secret key ending in the newline `echo` adds all get a 401 and every trace is dropped " +
		"without a trace in Bifrost's logs. Write `\"Authorization\": \"env.LANGFUSE_OTEL_AUTH\"` and put " +
		"the header value in that variable from a Secret: Bifrost substitutes a header value that starts " +
		"with `env.` (maximhq/bifrost plugins/otel/utils.go at v1.5.11), and the keys stay out of the " +
		"ConfigMap. `x-langfuse-ingestion-version`, when set, is read with JavaScript's parseInt and " +
		"must be at most 4 (4 selects real-time ingestion); anything above, or not starting with a " +
		"number, gets a 400 since Langfuse v3.154.0 (web/src/pages/api/public/otel/v1/traces/index.ts). " +
		"Applies to otel profiles whose collector_url is Langfuse's (/api/public/otel, or a host named " +
		"langfuse) or that send x-langfuse-* headers. Messages never quote the Authorization value.",
	Kinds: bifrost.ConfigKinds,
	Check: checkLangfuseHeaders,
}

func checkLangfuseHeaders(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		for _, p := range cfg.OtelProfiles() {
			headers := rules.LookupMap(p.Config, "headers")
			if !langfuse.IsExport(rules.LookupString(p.Config, "collector_url"), headers) {
				continue
			}
			auth := ""
			for _, name := range slices.Sorted(maps.Keys(headers)) {
				switch strings.ToLower(name) {
				case "authorization":
					auth = name
				case langfuse.IngestionVersionHeader:
					if problem := ingestionVersionProblem(headers[name]); problem != "" {
						c.ReportIn(cfg.JSONDoc, p.Path.Child("headers", name), rules.Finding{Message: problem})
					}
				}
			}
			if auth == "" {
				c.ReportIn(cfg.JSONDoc, p.Path, rules.Finding{Message: "otel exporter to Langfuse sends no Authorization header, so Langfuse answers 401 and drops every trace; add \"Authorization\": \"env.LANGFUSE_OTEL_AUTH\" with Basic base64(pk-lf-...:sk-lf-...) in that variable"})
				continue
			}
			if problem := authorizationProblem(headers[auth]); problem != "" {
				c.ReportIn(cfg.JSONDoc, p.Path.Child("headers", auth), rules.Finding{Message: problem + authFix})
			}
		}
	}
}

const authFix = ", so Langfuse answers 401 and drops every trace; set it to env.LANGFUSE_OTEL_AUTH and put \"Basic \" + base64(\"pk-lf-...:sk-lf-...\") in that variable from a Secret"

// authorizationProblem says what is wrong with an Authorization value, in
// words that never include the value or anything decoded from it.
func authorizationProblem(v any) string {
	s, ok := v.(string)
	if !ok {
		return "the Authorization header is not a string"
	}
	untrimmed := s
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "the Authorization header is empty"
	case strings.HasPrefix(untrimmed, "env."):
		return "" // Bifrost reads it from the environment
	case strings.HasPrefix(s, "env."):
		return "the Authorization header has space before env., which Bifrost sends literally (it only substitutes a value that starts with env.)"
	case isPlaceholder(s):
		return "the Authorization header is still a placeholder (it contains template markers such as <...>), not credentials"
	case strings.Contains(s, "env."):
		return "the Authorization header has env. inside it, which Bifrost sends literally (it only substitutes a value that is entirely env.VAR)"
	}
	scheme, cred, _ := strings.Cut(s, " ")
	if cred == "" && decodesToKeyPair(scheme) {
		return "the Authorization header lacks the \"Basic \" scheme in front of the credentials"
	}
	switch {
	case strings.EqualFold(scheme, "Basic") && scheme != "Basic":
		return "the Authorization header's scheme is not written \"Basic\" exactly, and Langfuse matches it case-sensitively"
	case scheme != "Basic":
		return "the Authorization header is not Basic auth, the only scheme Langfuse accepts"
	}
	cred = strings.TrimSpace(cred)
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(cred)
	}
	if err != nil || cred == "" {
		return "the Authorization header's credentials are not valid base64"
	}
	public, secret, found := strings.Cut(string(raw), ":")
	switch {
	case !found:
		return "the Authorization header's credentials decode to text without the colon between public and secret key"
	case strings.HasPrefix(public, "sk-lf-") && strings.HasPrefix(secret, "pk-lf-"):
		return "the Authorization header has the keys in the wrong order (secret key first; Langfuse wants pk-lf-...:sk-lf-...)"
	case !strings.HasPrefix(public, "pk-lf-") || !strings.HasPrefix(secret, "sk-lf-"):
		return "the Authorization header's credentials do not decode to a Langfuse key pair pk-lf-...:sk-lf-..."
	case strings.TrimRight(secret, "\r\n \t") != secret:
		return "the Authorization header's secret key ends in a newline or space (base64 of `echo` output without -n)"
	}
	return ""
}

func decodesToKeyPair(cred string) bool {
	raw, err := base64.StdEncoding.DecodeString(cred)
	return err == nil && strings.HasPrefix(string(raw), "pk-lf-") && strings.Contains(string(raw), ":")
}

// isPlaceholder spots template text left in a value: <...>, ${...},
// {{...}} and $(...) are never part of base64 credentials.
func isPlaceholder(s string) bool {
	return strings.ContainsAny(s, "<>") || strings.Contains(s, "${") || strings.Contains(s, "{{") || strings.Contains(s, "$(")
}

func ingestionVersionProblem(v any) string {
	s, isString := v.(string)
	if isString && strings.HasPrefix(s, "env.") {
		return ""
	}
	n, ok := rules.AsInt(v)
	if isString {
		n, ok = parseIntPrefix(s)
	}
	switch {
	case !ok:
		return fmt.Sprintf("%s %s is not an integer, so Langfuse rejects every export with 400; write \"4\"", langfuse.IngestionVersionHeader, rules.DescribeJSON(v))
	case n > 4:
		return fmt.Sprintf("%s %d is above 4, the highest Langfuse accepts, so it rejects every export with 400; write \"4\"", langfuse.IngestionVersionHeader, n)
	}
	return ""
}

// parseIntPrefix reads a header value as Langfuse does, with JavaScript's
// parseInt(v, 10): leading space, an optional sign, then the leading digits;
// "4.5" reads as 4, "v4" as nothing (langfuse/langfuse v4.16.0
// web/src/pages/api/public/otel/v1/traces/index.ts).
func parseIntPrefix(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\r")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	start := end
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == start {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	return n, err == nil
}
