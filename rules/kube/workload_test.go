package kube

import (
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
)

func TestRollingSurge(t *testing.T) {
	cases := []struct {
		name     string
		strategy map[string]any
		want     bool
	}{
		{"absent: RollingUpdate with 25% surge", nil, true},
		{"Recreate", map[string]any{"type": "Recreate"}, false},
		{"RollingUpdate, default surge", map[string]any{"type": "RollingUpdate"}, true},
		{"maxSurge 0", map[string]any{"rollingUpdate": map[string]any{"maxSurge": int64(0)}}, false},
		{"maxSurge 0%", map[string]any{"rollingUpdate": map[string]any{"maxSurge": "0%"}}, false},
		{"maxSurge 1% rounds up to a pod", map[string]any{"rollingUpdate": map[string]any{"maxSurge": "1%"}}, true},
		{"maxSurge 1", map[string]any{"rollingUpdate": map[string]any{"maxSurge": float64(1)}}, true},
		{"maxSurge nonsense counts as surging", map[string]any{"rollingUpdate": map[string]any{"maxSurge": "lots"}}, true},
	}
	for _, c := range cases {
		spec := map[string]any{}
		if c.strategy != nil {
			spec["strategy"] = c.strategy
		}
		obj := rules.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d"}, "spec": spec})
		if got := RollingSurge(obj); got != c.want {
			t.Errorf("%s: rollingSurge = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSingleAttachMode(t *testing.T) {
	pvc := func(modes ...any) *rules.Object {
		return rules.NewObject(map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "p"},
			"spec": map[string]any{"accessModes": modes}})
	}
	cases := []struct {
		obj  *rules.Object
		want string
	}{
		{nil, ""},
		{pvc("ReadWriteOnce"), "ReadWriteOnce"},
		{pvc("ReadWriteOncePod"), "ReadWriteOncePod"},
		{pvc("ReadWriteOnce", "ReadWriteOncePod"), "ReadWriteOncePod"},
		{pvc("ReadWriteOnce", "ReadWriteMany"), ""},
		{pvc("ReadOnlyMany"), ""},
		{pvc(), ""},
	}
	for i, c := range cases {
		if got := SingleAttachMode(c.obj); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}
