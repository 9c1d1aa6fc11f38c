package webhook

import (
	"encoding/json"
	"fmt"
	"slices"
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

// TestConfigMapsOfStamped: the restart controller revisits the ConfigMaps
// of a workload that carries a hash when it is created or really changed,
// and not for a workload without one or an update the cache drops.
func TestConfigMapsOfStamped(t *testing.T) {
	workload := func(annotations string, status int) *cachedObject {
		t.Helper()
		var content map[string]any
		doc := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ns"},
 "spec":{"template":{"metadata":{"annotations":{` + annotations + `}},"spec":{"containers":[{"name":"c","image":"x",
 "envFrom":[{"configMapRef":{"name":"env"}}]}],"volumes":[{"name":"v","configMap":{"name":"config"}}]}}},"status":{"replicas":` + fmt.Sprint(status) + `}}`
		if err := json.Unmarshal([]byte(doc), &content); err != nil {
			t.Fatal(err)
		}
		stripForCache(content)
		c, err := newCachedObject(content)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stamped := workload(`"gjallar.dev/config-hash":"sha256:1"`, 1)
	got := configMapsOfStamped(nil, stamped)
	var names []string
	for _, k := range got {
		if k.Secret || k.Namespace != "ns" {
			t.Errorf("key %+v", k)
		}
		names = append(names, k.Name)
	}
	if !slices.Equal(names, []string{"env", "config"}) && !slices.Equal(names, []string{"config", "env"}) {
		t.Errorf("created with a hash: %v, want the two ConfigMaps it reads", names)
	}
	if got := configMapsOfStamped(nil, workload("", 1)); len(got) != 0 {
		t.Errorf("created without a hash: %v", got)
	}
	if got := configMapsOfStamped(stamped, workload(`"gjallar.dev/config-hash":"sha256:1"`, 2)); len(got) != 0 {
		t.Errorf("a status update: %v", got)
	}
	if got := configMapsOfStamped(stamped, workload(`"gjallar.dev/config-hash":"sha256:2"`, 1)); len(got) != 2 {
		t.Errorf("the hash changed: %v", got)
	}
}
