package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/webhook"
)

// parityNamespaces hold the runbook's objects; its GatewayClass is
// cluster-scoped.
var parityNamespaces = []string{"ai-external", "ai-gateway"}

// inParity keeps the findings about the runbook's objects: other tests
// share the cluster.
func inParity(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, "|")
		_, rest, _ = strings.Cut(rest, "|")
		ref, _, _ := strings.Cut(rest, "|")
		if !strings.Contains(ref, "/") || slices.ContainsFunc(parityNamespaces, func(ns string) bool { return strings.Contains(ref, " "+ns+"/") }) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func line(rule, severity string, ref rules.ObjectRef, path, message string) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", rule, severity, ref, path, message)
}

// jsonFindings reads lint's JSON report, which audit writes too.
func jsonFindings(t *testing.T, out []byte) []string {
	t.Helper()
	var rep struct {
		Findings []struct {
			Rule     string
			Severity string
			Message  string
			Object   rules.ObjectRef
			Path     string
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var lines []string
	for _, f := range rep.Findings {
		lines = append(lines, line(f.Rule, f.Severity, f.Object, f.Path, f.Message))
	}
	return inParity(lines)
}

// run runs the gjallar binary and returns its standard output.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(suite.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if code := exitCode(err); code != 0 && code != 1 {
		t.Fatalf("gjallar %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return out
}

// dumpResources are what `gjallar audit` lists here, for kubectl get.
const dumpResources = "namespaces,configmaps,services,persistentvolumeclaims,deployments.apps,statefulsets.apps,daemonsets.apps," +
	"horizontalpodautoscalers.autoscaling,gateways.gateway.networking.k8s.io,gatewayclasses.gateway.networking.k8s.io," +
	"httproutes.gateway.networking.k8s.io,referencegrants.gateway.networking.k8s.io,gatewayparameters.gateway.kgateway.dev"

// lintDump lints `kubectl get -A -o yaml` of the cluster as a complete
// input. Without kubectl, the same List is built with the Go client.
func lintDump(t *testing.T) []string {
	t.Helper()
	dump := filepath.Join(t.TempDir(), "cluster.yaml")
	if _, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command("kubectl", "--kubeconfig", suite.kubeconfig, "get", dumpResources, "-A", "-o", "yaml").Output()
		if err != nil {
			t.Fatalf("kubectl get: %v", err)
		}
		if err := os.WriteFile(dump, out, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Log("no kubectl on PATH: dumping with the Go client")
		writeDump(t, dump)
	}
	return jsonFindings(t, run(t, "lint", "--complete", "--format", "json", "-q", dump))
}

func writeDump(t *testing.T, path string) {
	t.Helper()
	var items []any
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"}, {Version: "v1", Kind: "ConfigMap"}, {Version: "v1", Kind: "Service"},
		{Version: "v1", Kind: "PersistentVolumeClaim"}, {Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"}, {Group: "apps", Version: "v1", Kind: "DaemonSet"},
		{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}, {Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, {Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "ReferenceGrant"},
		{Group: "gateway.kgateway.dev", Version: "v1alpha1", Kind: "GatewayParameters"},
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := suite.client.List(context.Background(), list); err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Items {
			unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
			items = append(items, u.Object)
		}
	}
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reportFindings reads gjallar's PolicyReports back into findings.
func reportFindings(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, kind := range []string{"PolicyReportList", "ClusterPolicyReportList"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: kind})
		if err := suite.client.List(context.Background(), list, client.MatchingLabels{audit.ManagedByLabel: "gjallar"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Items {
			results, _, _ := unstructured.NestedSlice(r.Object, "results")
			for _, x := range results {
				m := x.(map[string]any)
				sev := map[string]string{"fail": "error", "warn": "warning"}[m["result"].(string)]
				if m["severity"] == "info" {
					sev = "info"
				}
				res := m["resources"].([]any)[0].(map[string]any)
				ns, _ := res["namespace"].(string)
				path, _, _ := unstructured.NestedString(m, "properties", "path")
				ref := rules.ObjectRef{APIVersion: res["apiVersion"].(string), Kind: res["kind"].(string), Namespace: ns, Name: res["name"].(string)}
				lines = append(lines, line(m["policy"].(string), sev, ref, path, m["message"].(string)))
			}
		}
	}
	return inParity(lines)
}

// startBackgroundAudit runs `gjallar webhook` in this process with no
// webhook configuration installed (so nothing is judged at admission) and
// a background audit that settles fast.
func startBackgroundAudit(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		done <- webhook.Run(ctx, webhook.Options{
			RestConfig: suite.cfg, Host: "127.0.0.1", Port: 1, CertDir: t.TempDir(),
			Namespace: "gjallar-system", MetricsAddr: "0", ProbeAddr: "0",
			Extensions: func(cfg *rules.Config) ([]rules.Extension, error) {
				set, err := policies.Load(policies.Options{Builtin: true, Config: cfg, NoNetwork: true, Timeout: 2 * time.Second})
				return []rules.Extension{set}, err
			},
			Audit: webhook.AuditOptions{Interval: time.Hour, Settle: 300 * time.Millisecond, MinGap: time.Second},
		})
	}()
}

// TestAuditWebhookAndLintSayTheSame creates the runbook's objects, which
// break rules, with no webhook in the way, then requires `gjallar audit`,
// the PolicyReports the background audit writes and `gjallar lint` over
// `kubectl get -o yaml` of the cluster to report the same findings; and
// again after an object is fixed, another deleted, and the last finding
// of a namespace cleared, which deletes its report.
func TestAuditWebhookAndLintSayTheSame(t *testing.T) {
	requireEnv(t)
	for _, ns := range parityNamespaces {
		namespace(t, ns)
	}
	for _, f := range []string{"bifrost.yaml", "client.yaml", "gateway.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "examples", "runbook", f))
		if err != nil {
			t.Fatal(err)
		}
		apply(t, suite.client, string(data))
	}
	startBackgroundAudit(t)

	agree := func(step string, check func(audited []string)) {
		t.Helper()
		audited := jsonFindings(t, run(t, "audit", "--kubeconfig", suite.kubeconfig, "-A", "--format", "json", "-q"))
		if len(audited) == 0 {
			t.Fatalf("%s: the audit found nothing", step)
		}
		if linted := lintDump(t); !slices.Equal(audited, linted) {
			t.Errorf("%s: audit and lint of the dump differ:\naudit:\n%s\nlint:\n%s", step, strings.Join(audited, "\n"), strings.Join(linted, "\n"))
		}
		var reported []string
		if !waitFor(30*time.Second, func() bool { reported = reportFindings(t); return slices.Equal(audited, reported) }) {
			t.Errorf("%s: audit and the PolicyReports differ:\naudit:\n%s\nreports:\n%s", step, strings.Join(audited, "\n"), strings.Join(reported, "\n"))
		}
		t.Logf("%s: %d findings agree", step, len(audited))
		check(audited)
	}
	has := func(lines []string, rule, ref string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, rule+"|") && strings.Contains(l, "|"+ref+"|") })
	}

	agree("created", func(audited []string) {
		for _, want := range [][2]string{
			{"bifrost-providers-map", "ConfigMap ai-external/bifrost-gateway-config"},
			{"model-provider-prefix", "Deployment ai-external/chat-app"},
			{"public-nlb-cloudfront", "Gateway ai-gateway/unified-gateway"},
			{"kgateway-gatewayclass", "GatewayClass kgateway"},
		} {
			if !has(audited, want[0], want[1]) {
				t.Errorf("no %s finding on %s:\n%s", want[0], want[1], strings.Join(audited, "\n"))
			}
		}
	})
	// The runbook's Gateway writes its three load-balancer annotations in
	// metadata.annotations, which kgateway never copies.
	if v := metric(t, "gjallar_audit_findings", map[string]string{"namespace": "ai-gateway", "rule": "public-nlb-cloudfront", "severity": "warning"}); v != 3 {
		t.Errorf("gjallar_audit_findings for the Gateway = %v, want 3", v)
	}

	// Fix the config: providers as an object keyed by name.
	var cm corev1.ConfigMap
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: "ai-external", Name: "bifrost-gateway-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := json.Unmarshal([]byte(cm.Data["config.json"]), &config); err != nil {
		t.Fatal(err)
	}
	byName := map[string]any{}
	for _, p := range config["providers"].([]any) {
		m := p.(map[string]any)
		byName[m["name"].(string)] = m
		delete(m, "name")
	}
	config["providers"] = byName
	fixed, _ := json.Marshal(config)
	cm.Data["config.json"] = string(fixed)
	if err := suite.client.Update(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
	agree("config fixed", func(audited []string) {
		if has(audited, "bifrost-providers-map", "ConfigMap ai-external/bifrost-gateway-config") {
			t.Error("the fixed providers are still reported")
		}
	})

	del := func(obj client.Object) {
		t.Helper()
		if err := suite.client.Delete(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	chat := &unstructured.Unstructured{}
	chat.SetAPIVersion("apps/v1")
	chat.SetKind("Deployment")
	chat.SetNamespace("ai-external")
	chat.SetName("chat-app")
	del(chat)
	agree("client deleted", func(audited []string) {
		if has(audited, "model-provider-prefix", "Deployment ai-external/chat-app") {
			t.Error("the deleted Deployment is still reported")
		}
	})

	gw := &unstructured.Unstructured{}
	gw.SetAPIVersion("gateway.networking.k8s.io/v1")
	gw.SetKind("Gateway")
	gw.SetNamespace("ai-gateway")
	gw.SetName("unified-gateway")
	del(gw)
	agree("ai-gateway clean", func(audited []string) {
		report := &unstructured.Unstructured{}
		report.SetAPIVersion("wgpolicyk8s.io/v1alpha2")
		report.SetKind("PolicyReport")
		if !waitFor(30*time.Second, func() bool {
			return apierrors.IsNotFound(suite.client.Get(context.Background(), client.ObjectKey{Namespace: "ai-gateway", Name: "gjallar"}, report))
		}) {
			t.Error("the report of the clean namespace ai-gateway was not deleted")
		}
	})
}

// metric reads a sample of a metric gjallar registered.
func metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
