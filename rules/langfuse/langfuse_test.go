package langfuse

import "testing"

func TestExportsToLangfuse(t *testing.T) {
	cases := []struct {
		url     string
		headers map[string]any
		want    bool
	}{
		{"http://collector:4318/api/public/otel/v1/traces", nil, true},
		{"langfuse-web.observability:3000", nil, true},
		{"https://langfuse.example.com/v1/traces", nil, true},
		{"env.URL", map[string]any{"X-Langfuse-Ingestion-Version": "4"}, true},
		{"http://tempo:4318/v1/traces", map[string]any{"Authorization": "Bearer x"}, false},
		{"https://api.example.com/langfuse-proxy/v1/traces", nil, false},
	}
	for _, c := range cases {
		if got := IsExport(c.url, c.headers); got != c.want {
			t.Errorf("%s %v: %v, want %v", c.url, c.headers, got, c.want)
		}
	}
}
