package webhook

import (
	"encoding/json"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestOnlyConfigHashChanged(t *testing.T) {
	base := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","resourceVersion":"1","generation":1},
 "spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}},"status":{"replicas":1}}`
	cases := []struct {
		name, next string
		want       bool
	}{
		{"first hash stamped", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","resourceVersion":"2","generation":2},
 "spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"d"},"annotations":{"gjallar.dev/config-hash":"sha256:1"}},"spec":{"containers":[{"name":"c","image":"x"}]}}},"status":{"replicas":1}}`, true},
		{"image changed too", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","resourceVersion":"2"},
 "spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"d"},"annotations":{"gjallar.dev/config-hash":"sha256:1"}},"spec":{"containers":[{"name":"c","image":"y"}]}}}}`, false},
		{"another annotation", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
 "spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"d"},"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`, false},
		{"replicas", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
 "spec":{"replicas":3,"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`, false},
	}
	for _, c := range cases {
		var next map[string]any
		if err := json.Unmarshal([]byte(c.next), &next); err != nil {
			t.Fatal(err)
		}
		// Integers as the admission decoder produces them.
		raw, _ := json.Marshal(next)
		obj, _ := decodeObject(requestWith(raw))
		if got := onlyConfigHashChanged([]byte(base), obj.Content); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if onlyConfigHashChanged(nil, map[string]any{}) {
		t.Error("a create counted as a hash-only update")
	}
}

func requestWith(raw []byte) admission.Request {
	var r admission.Request
	r.Object.Raw = raw
	return r
}
