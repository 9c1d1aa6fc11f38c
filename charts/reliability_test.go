package charts

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestShutdownAgreesWithGracePeriod: the kubelet must not kill a replica
// that is still draining or finishing requests: terminationGracePeriodSeconds
// covers --shutdown-delay plus --shutdown-timeout (the webhook timeout), and
// changing either value moves it.
func TestShutdownAgreesWithGracePeriod(t *testing.T) {
	for _, values := range []map[string]any{
		nil,
		{"webhook": map[string]any{"shutdownDelaySeconds": 40, "timeoutSeconds": 30}},
		{"webhook": map[string]any{"shutdownDelaySeconds": 0, "timeoutSeconds": 2}},
	} {
		objs, err := Render("gjallar", "gjallar-system", values)
		if err != nil {
			t.Fatal(err)
		}
		var d appsv1.Deployment
		if !find(t, objs, "Deployment", "gjallar", &d) {
			t.Fatal("no Deployment")
		}
		c := d.Spec.Template.Spec.Containers[0]
		delay, timeout := durationArg(t, c.Args, "--shutdown-delay"), durationArg(t, c.Args, "--shutdown-timeout")
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || float64(*grace) < delay+timeout+5 {
			t.Errorf("values %v: terminationGracePeriodSeconds %v does not cover a %vs drain and %vs of requests in flight", values, grace, delay, timeout)
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			t.Errorf("values %v: a preStop hook would add to the drain the grace period does not count", values)
		}
		if delay == 0 && values == nil {
			t.Error("default values: no drain before exiting")
		}
	}
}

func durationArg(t *testing.T, args []string, flag string) float64 {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			secs, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
			if err != nil || !strings.HasSuffix(v, "s") {
				t.Fatalf("%s=%s is not in seconds", flag, v)
			}
			return secs
		}
	}
	t.Fatalf("no %s in %v", flag, args)
	return 0
}

// TestGoMemLimitAgreesWithContainerLimit: GOMEMLIMIT is below the
// container's memory limit (80% of it), for the default and other limits,
// and a limit it cannot read is refused rather than ignored.
func TestGoMemLimitAgreesWithContainerLimit(t *testing.T) {
	for _, limit := range []string{"", "1Gi", "700M", "268435456"} {
		var values map[string]any
		if limit != "" {
			values = map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": limit}}}
		}
		objs, err := Render("gjallar", "gjallar-system", values)
		if err != nil {
			t.Fatal(err)
		}
		var d appsv1.Deployment
		find(t, objs, "Deployment", "gjallar", &d)
		c := d.Spec.Template.Spec.Containers[0]
		container := c.Resources.Limits.Memory().Value()
		var goLimit int64 = -1
		for _, e := range c.Env {
			if e.Name == "GOMEMLIMIT" {
				goLimit, err = strconv.ParseInt(e.Value, 10, 64)
				if err != nil {
					t.Fatalf("GOMEMLIMIT %q is not bytes", e.Value)
				}
			}
		}
		if want := container * 8 / 10; goLimit != want {
			t.Errorf("limit %q (%d bytes): GOMEMLIMIT %d, want %d", limit, container, goLimit, want)
		}
	}
	_, err := Render("gjallar", "gjallar-system", map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1.5Gi"}}})
	if err == nil || !strings.Contains(err.Error(), "resources.limits.memory") {
		t.Errorf("a fractional limit: %v", err)
	}
	if q := resource.MustParse("512Mi"); q.Value() != 536870912 {
		t.Fatal("resource parsing changed")
	}
}

// TestSecretAccess: Secrets are read nowhere by default, in the listed
// namespaces only when namespaced, everywhere only when cluster; the flags
// follow.
func TestSecretAccess(t *testing.T) {
	readsSecrets := func(rules []rbacv1.PolicyRule) bool {
		for _, r := range rules {
			for _, res := range r.Resources {
				if res == "secrets" && len(r.ResourceNames) == 0 && strings.Contains(strings.Join(r.Verbs, ","), "get") {
					return true
				}
			}
		}
		return false
	}
	cases := []struct {
		access      string
		namespaces  []any
		clusterWide bool
		roles       []string // namespaces given a Secret-reading Role
		args        []string
	}{
		{access: "none"},
		{access: "namespaced", namespaces: []any{"ai-external", "ai-gateway"}, roles: []string{"ai-external", "ai-gateway"},
			args: []string{"--watch-secrets", "--secret-namespaces=ai-external,ai-gateway"}},
		{access: "cluster", clusterWide: true, args: []string{"--watch-secrets"}},
	}
	for _, c := range cases {
		objs, err := Render("gjallar", "gjallar-system", map[string]any{"secrets": map[string]any{"access": c.access, "namespaces": c.namespaces}})
		if err != nil {
			t.Fatalf("%s: %v", c.access, err)
		}
		var cr rbacv1.ClusterRole
		find(t, objs, "ClusterRole", "gjallar", &cr)
		if readsSecrets(cr.Rules) != c.clusterWide {
			t.Errorf("%s: ClusterRole reads Secrets: %v", c.access, !c.clusterWide)
		}
		var roles []string
		for _, o := range objs {
			if o.GetKind() != "Role" || o.GetName() != "gjallar-secrets" {
				continue
			}
			var r rbacv1.Role
			find(t, []*unstructured.Unstructured{o}, "Role", "gjallar-secrets", &r)
			if readsSecrets(r.Rules) {
				roles = append(roles, r.Namespace)
			}
			if !find(t, objs, "RoleBinding", "gjallar-secrets", nil) {
				t.Errorf("%s: Role without a RoleBinding", c.access)
			}
		}
		if strings.Join(roles, ",") != strings.Join(c.roles, ",") {
			t.Errorf("%s: Secret-reading Roles in %v, want %v", c.access, roles, c.roles)
		}
		var d appsv1.Deployment
		find(t, objs, "Deployment", "gjallar", &d)
		args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
		if strings.Contains(args, "--watch-secrets") != (len(c.args) > 0) {
			t.Errorf("%s: args %q", c.access, args)
		}
		for _, a := range c.args {
			if !strings.Contains(args, a) {
				t.Errorf("%s: args %q lack %q", c.access, args, a)
			}
		}
	}
	for _, bad := range []map[string]any{{"access": "yes"}, {"access": "namespaced"}} {
		if _, err := Render("gjallar", "gjallar-system", map[string]any{"secrets": bad}); err == nil || !strings.Contains(err.Error(), "secrets.") {
			t.Errorf("secrets %v: want an error naming the value, got %v", bad, err)
		}
	}
}
