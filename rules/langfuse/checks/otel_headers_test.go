package checks

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

const (
	testPublicKey = "pk-lf-0c6f1e2a-7d3b-4e59-9a81-2f4c5d6e7f80"
	testSecretKey = "sk-lf-9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
)

func langfuseConfig(t *testing.T, headers map[string]any) *rules.Object {
	t.Helper()
	cfg := map[string]any{
		"providers": map[string]any{"openai": map[string]any{"keys": []any{map[string]any{"name": "k", "weight": 1, "models": []any{"*"}}}}},
		"plugins": []any{map[string]any{"enabled": true, "name": "otel", "config": map[string]any{
			"trace_type": "otel", "protocol": "http",
			"collector_url": "http://langfuse-web:3000/api/public/otel/v1/traces",
			"headers":       headers,
		}}},
	}
	text, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rules.NewFileObject(bifrost.ConfigFile, "config.json", string(text), nil)
}

func runRule(t *testing.T, r *rules.Rule, objs ...*rules.Object) []rules.Finding {
	t.Helper()
	e, err := rules.NewEngine([]*rules.Rule{r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := e.NewRun(rules.NewMemIndex(objs))
	var out []rules.Finding
	for _, o := range objs {
		out = append(out, run.Check(o)...)
	}
	return out
}

// TestAuthorizationNeverQuoted breaks real-looking credentials in every way
// the rule knows and checks that no message carries the keys, the base64,
// or any long piece of either.
func TestAuthorizationNeverQuoted(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	pair := testPublicKey + ":" + testSecretKey
	values := map[string]string{
		"swapped":            "Basic " + b64(testSecretKey+":"+testPublicKey),
		"no colon":           "Basic " + b64(testPublicKey+testSecretKey),
		"newline":            "Basic " + b64(pair+"\n"),
		"not base64":         "Basic " + pair,
		"no scheme":          b64(pair),
		"bearer":             "Bearer " + testSecretKey,
		"placeholder around": "Basic <" + b64(pair) + ">",
		"template":           "Basic ${" + b64(pair) + "}",
		"env inside":         "Basic env." + b64(pair),
		"not langfuse keys":  "Basic " + b64("pk-other-123:"+testSecretKey),
	}
	for name, v := range values {
		findings := runRule(t, LangfuseOtelHeaders, langfuseConfig(t, map[string]any{"Authorization": v}))
		if len(findings) != 1 {
			t.Errorf("%s: %d findings, want 1: %+v", name, len(findings), findings)
			continue
		}
		msg := findings[0].Message
		secrets := []string{testPublicKey, testSecretKey, b64(pair), v, strings.TrimPrefix(v, "Basic ")}
		for _, s := range secrets {
			for i := 0; i+12 <= len(s); i++ {
				if strings.Contains(msg, s[i:i+12]) {
					t.Errorf("%s: message quotes part of the credentials (%q): %s", name, s[i:i+12], msg)
					break
				}
			}
		}
	}
}

func TestAuthorizationProblem(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	pair := testPublicKey + ":" + testSecretKey
	cases := []struct {
		value any
		want  string // "" = fine
	}{
		{"env.LANGFUSE_OTEL_AUTH", ""},
		{"Basic " + b64(pair), ""},
		{"Basic " + strings.TrimRight(b64(pair), "="), ""}, // unpadded base64 decodes too
		{"basic " + b64(pair), "case-sensitively"},         // Langfuse's apiAuth.ts wants "Basic " exactly
		{" env.LANGFUSE_OTEL_AUTH", "space before env."},   // Bifrost only substitutes a value starting with env.
		{"Basic <BASE64(pk:sk)>", "placeholder"},
		{"Basic {{ .Values.auth }}", "placeholder"},
		{"Basic $(LANGFUSE_AUTH)", "placeholder"},
		{"Basic " + b64(testSecretKey+":"+testPublicKey), "wrong order"},
		{"Basic " + b64(pair+"\n"), "newline"},
		{"Basic " + b64(testPublicKey), "without the colon"},
		{"Basic", "not valid base64"},
		{"", "empty"},
		{int64(4), "not a string"},
		{b64(pair), "lacks the \"Basic \" scheme"},
	}
	for _, c := range cases {
		got := authorizationProblem(c.value)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", c.value, got, c.want)
		}
	}
}

func TestIngestionVersionProblem(t *testing.T) {
	cases := []struct {
		value any
		bad   bool
	}{
		{"4", false}, {" 3 ", false}, {json.Number("4"), false}, {int64(2), false}, {"env.VERSION", false},
		{"4.5", false}, {"4abc", false}, // JavaScript's parseInt reads the leading digits
		{"5", true}, {json.Number("4.5"), true}, {"v4", true}, {"", true}, {nil, true}, {true, true}, {"+7", true},
	}
	for _, c := range cases {
		if got := ingestionVersionProblem(c.value); (got != "") != c.bad {
			t.Errorf("%#v: %q, bad=%v", c.value, got, c.bad)
		}
	}
}
