package charts

import (
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string, into any) bool {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			if into != nil {
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
					t.Fatalf("%s %s: %v", kind, name, err)
				}
			}
			return true
		}
	}
	return false
}

func TestDefaults(t *testing.T) {
	objs, err := Render("gjallar", "gjallar-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if !find(t, objs, "Deployment", "gjallar", &d) {
		t.Fatal("no Deployment")
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod not runAsNonRoot")
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("container not read-only / escalation allowed")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("no resource requests or limits")
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Error("no pod anti-affinity")
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"webhook", "--manage-certs=true", "--namespace=gjallar-system", "--validating-webhook=gjallar", "--leader-elect=true", "--config=/etc/gjallar/config/config.yaml", "--decoded-objects=1024"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil {
		t.Error("probes missing")
	}
	var pdb policyv1.PodDisruptionBudget
	if !find(t, objs, "PodDisruptionBudget", "", &pdb) || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Error("no PodDisruptionBudget with minAvailable 1")
	}
	if !find(t, objs, "Secret", "gjallar-cert", nil) || find(t, objs, "Certificate", "", nil) {
		t.Error("self-managed certs: want the empty cert Secret and no Certificate")
	}

	var vwc admissionv1.ValidatingWebhookConfiguration
	if !find(t, objs, "ValidatingWebhookConfiguration", "gjallar", &vwc) {
		t.Fatal("no ValidatingWebhookConfiguration")
	}
	for _, w := range vwc.Webhooks {
		if *w.FailurePolicy != admissionv1.Fail || *w.TimeoutSeconds != 5 || *w.SideEffects != admissionv1.SideEffectClassNone {
			t.Errorf("%s: failurePolicy %s timeout %d", w.Name, *w.FailurePolicy, *w.TimeoutSeconds)
		}
		sel := fmt.Sprint(w.NamespaceSelector.MatchExpressions)
		for _, ns := range []string{"kube-system", "gjallar-system", "gjallar.dev/ignore"} {
			if !strings.Contains(sel, ns) {
				t.Errorf("%s: namespaceSelector %s does not skip %s", w.Name, sel, ns)
			}
		}
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != "/validate" {
			t.Errorf("%s: client config %+v", w.Name, w.ClientConfig)
		}
		if w.Name != "gateways.gjallar.dev" && len(w.MatchConditions) == 0 {
			t.Errorf("%s: no matchConditions narrowing it", w.Name)
		}
	}
	var mwc admissionv1.MutatingWebhookConfiguration
	if !find(t, objs, "MutatingWebhookConfiguration", "gjallar", &mwc) || len(mwc.Webhooks) != 1 {
		t.Fatal("no MutatingWebhookConfiguration")
	}
	if *mwc.Webhooks[0].FailurePolicy != admissionv1.Ignore || *mwc.Webhooks[0].ClientConfig.Service.Path != "/mutate" {
		t.Errorf("mutating webhook: %+v", mwc.Webhooks[0])
	}
}

// TestLeastPrivilege: Secrets only in the release namespace, writes only to
// the workloads the controller rolls, gjallar's own webhook configs and the
// audit's reports.
func TestLeastPrivilege(t *testing.T) {
	objs, err := Render("gjallar", "gjallar-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cr rbacv1.ClusterRole
	if !find(t, objs, "ClusterRole", "gjallar", &cr) {
		t.Fatal("no ClusterRole")
	}
	for _, r := range cr.Rules {
		for _, res := range r.Resources {
			if res == "secrets" || res == "*" {
				t.Errorf("ClusterRole grants %v on %s", r.Verbs, res)
			}
		}
		for _, v := range r.Verbs {
			write := v == "update" || v == "patch" || v == "create" || v == "delete" || v == "*"
			switch {
			case !write:
			case strings.Join(r.APIGroups, ",") == "apps" && v == "patch":
			case strings.Join(r.APIGroups, ",") == "events.k8s.io":
			case strings.Join(r.APIGroups, ",") == "admissionregistration.k8s.io" && strings.Join(r.ResourceNames, ",") == "gjallar":
			case strings.Join(r.APIGroups, ",") == "wgpolicyk8s.io" && strings.Join(r.Resources, ",") == "policyreports,clusterpolicyreports":
				// the background audit's reports
			default:
				t.Errorf("ClusterRole grants %s on %v %v", v, r.APIGroups, r.Resources)
			}
		}
	}
	var role rbacv1.Role
	if !find(t, objs, "Role", "gjallar", &role) || role.Namespace != "gjallar-system" {
		t.Fatal("no Role in the release namespace")
	}
	for _, r := range role.Rules {
		if r.Resources[0] != "secrets" {
			continue
		}
		for _, v := range r.Verbs {
			if (v == "get" || v == "update" || v == "patch") && strings.Join(r.ResourceNames, ",") != "gjallar-cert" {
				t.Errorf("Role grants %s on every Secret in the namespace, not only gjallar-cert", v)
			}
		}
	}
}

func TestNonDefaultValues(t *testing.T) {
	objs, err := Render("prod", "platform", map[string]any{
		"replicaCount": 3,
		"webhook": map[string]any{
			"failurePolicy": "Ignore", "timeoutSeconds": 10, "excludedNamespaces": []any{"legacy"},
			"extraRules": []any{map[string]any{"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "resources": []any{"namespaces"}, "operations": []any{"CREATE"}}},
		},
		"certificates":   map[string]any{"certManager": map[string]any{"enabled": true}},
		"config":         map[string]any{"rules": map[string]any{"bifrost-fsgroup": map[string]any{"severity": "warning"}}},
		"policies":       map[string]any{"team.rego": "package main\ndeny contains msg if { false; msg := \"\" }\n"},
		"leaderElection": map[string]any{"enabled": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if !find(t, objs, "Deployment", "prod-gjallar", &d) {
		t.Fatal("no Deployment named prod-gjallar")
	}
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--manage-certs=false", "--policy=/etc/gjallar/policies", "--leader-elect=false", "--namespace=platform"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
	if !find(t, objs, "Certificate", "prod-gjallar", nil) || !find(t, objs, "Issuer", "", nil) || find(t, objs, "Secret", "", nil) {
		t.Error("cert-manager: want a Certificate and a self-signed Issuer, no Secret")
	}
	var vwc admissionv1.ValidatingWebhookConfiguration
	find(t, objs, "ValidatingWebhookConfiguration", "prod-gjallar", &vwc)
	if vwc.Annotations["cert-manager.io/inject-ca-from"] != "platform/prod-gjallar" {
		t.Errorf("annotations = %v", vwc.Annotations)
	}
	last := vwc.Webhooks[len(vwc.Webhooks)-1]
	if last.Name != "extra.gjallar.dev" || last.Rules[0].Resources[0] != "namespaces" {
		t.Errorf("extraRules not rendered: %+v", last)
	}
	for _, w := range vwc.Webhooks {
		if *w.FailurePolicy != admissionv1.Ignore || *w.TimeoutSeconds != 10 || !strings.Contains(fmt.Sprint(w.NamespaceSelector), "legacy") {
			t.Errorf("%s: values not applied", w.Name)
		}
	}
	var cm unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "prod-gjallar-config" {
			cm = *o
		}
	}
	if cfg, _, _ := unstructured.NestedString(cm.Object, "data", "config.yaml"); !strings.Contains(cfg, "bifrost-fsgroup") {
		t.Errorf("config not rendered: %q", cfg)
	}
	if !find(t, objs, "ConfigMap", "prod-gjallar-policies", nil) {
		t.Error("policies ConfigMap missing")
	}
	var role rbacv1.Role
	find(t, objs, "Role", "prod-gjallar", &role)
	if len(role.Rules) != 0 {
		t.Errorf("with cert-manager and no leader election the Role needs no rules, has %v", role.Rules)
	}
}

// TestAudit: the background audit's interval, API and write rate reach
// the webhook; its report CRDs are installed unless told not to, or the
// reports are openreports.io; "0" turns it off with its RBAC.
func TestAudit(t *testing.T) {
	render := func(audit map[string]any) ([]*unstructured.Unstructured, string, rbacv1.ClusterRole) {
		t.Helper()
		var values map[string]any
		if audit != nil {
			values = map[string]any{"audit": audit}
		}
		objs, err := Render("gjallar", "gjallar-system", values)
		if err != nil {
			t.Fatal(err)
		}
		var d appsv1.Deployment
		find(t, objs, "Deployment", "gjallar", &d)
		var cr rbacv1.ClusterRole
		find(t, objs, "ClusterRole", "gjallar", &cr)
		return objs, strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "), cr
	}
	grants := func(cr rbacv1.ClusterRole, group string) bool {
		for _, r := range cr.Rules {
			if strings.Join(r.APIGroups, ",") == group && strings.Contains(strings.Join(r.Verbs, ","), "create") {
				return true
			}
		}
		return false
	}
	crds := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				out = append(out, o.GetName())
				if o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
					t.Errorf("%s is not kept on uninstall", o.GetName())
				}
			}
		}
		return out
	}

	objs, args, cr := render(nil)
	for _, want := range []string{"--audit-interval=5m", "--audit-report-api=wgpolicyk8s.io/v1alpha2", "--audit-writes-per-second=5"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if !grants(cr, "wgpolicyk8s.io") {
		t.Error("no RBAC to write PolicyReports")
	}
	if got := strings.Join(crds(objs), ","); got != "policyreports.wgpolicyk8s.io,clusterpolicyreports.wgpolicyk8s.io" {
		t.Errorf("CRDs = %s", got)
	}
	var crd map[string]any
	for _, o := range objs {
		if o.GetName() == "policyreports.wgpolicyk8s.io" {
			crd = o.Object
		}
	}
	if v, _, _ := unstructured.NestedSlice(crd, "spec", "versions"); len(v) != 1 || v[0].(map[string]any)["name"] != "v1alpha2" {
		t.Errorf("PolicyReport CRD versions %v", v)
	}

	if objs, _, _ := render(map[string]any{"installCRDs": false}); len(crds(objs)) != 0 {
		t.Error("installCRDs false still renders CRDs")
	}
	objs, args, cr = render(map[string]any{"reportAPI": "openreports.io/v1alpha1"})
	if len(crds(objs)) != 0 || !grants(cr, "openreports.io") || grants(cr, "wgpolicyk8s.io") || !strings.Contains(args, "--audit-report-api=openreports.io/v1alpha1") {
		t.Errorf("openreports: CRDs %v, args %q", crds(objs), args)
	}
	_, args, cr = render(map[string]any{"interval": "0"})
	if grants(cr, "wgpolicyk8s.io") || !strings.Contains(args, "--audit-interval=0") {
		t.Errorf("interval 0: still grants report writes, or args %q", args)
	}
}
