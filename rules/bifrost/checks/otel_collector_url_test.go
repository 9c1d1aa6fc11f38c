package checks

import (
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
)

func TestGRPCCollectorProblem(t *testing.T) {
	cases := []struct{ url, want string }{
		{"otel-collector:4317", ""},
		{"http://otel-collector:4317", ""},
		{"otel-collector:4317/", ""},
		{"otel-collector:4317/v1/traces", `write "otel-collector:4317"`},
		{"langfuse-web.observability:3000", "takes OTLP over HTTP only"},
		{"https://cloud.langfuse.com/api/public/otel", `"http://cloud.langfuse.com/api/public/otel/v1/traces"`},
	}
	for _, c := range cases {
		got := grpcCollectorProblem(c.url)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want it to contain %q", c.url, got, c.want)
		}
	}
}

// TestCollectorURLHidesCredentials: user info and query strings can carry
// tokens, so messages quote URLs without them.
func TestCollectorURLHidesCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://user:hunter2@cloud.langfuse.com/api/public/otel?token=abc",
		"user:hunter2@cloud.langfuse.com/api/public/otel?token=abc",
	} {
		msg := httpCollectorProblem(&rules.Context{Index: rules.NewMemIndex(nil)}, "ns", raw)
		if msg == "" {
			t.Fatalf("%s: no problem reported", raw)
		}
		if strings.Contains(msg, "hunter2") || strings.Contains(msg, "token=abc") {
			t.Errorf("message shows credentials: %s", msg)
		}
	}
	for _, raw := range []string{
		"user:hunter2@langfuse-web:3000/api/public/otel",
		"grpc://collector:4317/v1/traces?api_key=hunter2",
		"user:pa/sshunter2@collector:4317",
		"grpc://user:hunter2@collector:4317/v1/traces",
	} {
		msg := grpcCollectorProblem(raw)
		if strings.Contains(msg, "hunter2") || strings.Contains(msg, "user:pa") {
			t.Errorf("grpc message for %s shows credentials: %q", raw, msg)
		}
	}
	if grpcCollectorProblem("grpc://collector:4317/v1/traces?api_key=hunter2") == "" {
		t.Error("a grpc URL with a path and query is not reported")
	}
}
