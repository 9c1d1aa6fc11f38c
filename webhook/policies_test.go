package webhook_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPolicyInventoryLookup: a team's Rego policy reads data.inventory,
// which the webhook fills from the cluster's cache.
func TestPolicyInventoryLookup(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "policy-inventory")
	d := bifrostDeployment("app", ns, "", false)
	d.Spec.Template.Spec.Containers[0].Image = "example.com/app:1"
	d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-settings"}}}}
	err := suite.client.Create(ctx, d.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), "team-configmap-exists: envFrom names ConfigMap app-settings, which does not exist in policy-inventory") {
		t.Fatalf("create = %v, want the policy's denial", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-settings", Namespace: ns}, Data: map[string]string{"LOG_LEVEL": "info"}}
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "ConfigMap", ns, cm.Name, cm.ResourceVersion)
	if err := suite.client.Create(ctx, d); err != nil {
		t.Errorf("with the ConfigMap in the cluster: %v", err)
	}
}

func TestBuiltinPoliciesAtAdmission(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "builtin-policies")
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "by-ip", "namespace": ns},
		"spec":     map[string]any{"hostnames": []any{"k8s-aigatewa-unified-0123456789.elb.us-east-1.amazonaws.com"}},
	}}
	err := suite.client.Create(ctx, route)
	if err == nil || !strings.Contains(err.Error(), "endpoint-hostname") {
		t.Errorf("HTTPRoute on an AWS-generated name: %v, want an endpoint-hostname denial", err)
	}
	const key = "sk-proj-abcdefghijklmnop1234567890"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bifrost", Namespace: ns}, Data: map[string]string{
		"config.json": `{"providers": {"openai": {"keys": [{"name": "k", "value": "` + key + `", "weight": 1, "models": ["*"]}]}}}`}}
	suite.warnings.take()
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatalf("a literal key is a warning, not a denial: %v", err)
	}
	warnings := strings.Join(suite.warnings.take(), "\n")
	if !strings.Contains(warnings, "plaintext-secret") {
		t.Errorf("warnings = %q, want plaintext-secret", warnings)
	}
	if strings.Contains(warnings, key) || strings.Contains(suite.logs.String(), key) {
		t.Error("the key appears in a warning or the logs")
	}
}

// TestPolicyReload: a policy file added to the watched directory takes
// effect without a restart, and stops when removed.
func TestPolicyReload(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "policy-reload")
	file := filepath.Join(suite.policyDir, "reload.rego")
	rego := "package main\n\ndeny contains \"ConfigMaps named forbidden are not allowed\" if {\n\tinput.kind == \"ConfigMap\"\n\tinput.metadata.name == \"forbidden\"\n}\n"
	if err := os.WriteFile(file, []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	removed := false
	defer func() {
		if !removed {
			os.Remove(file)
		}
	}()
	cm := bifrostConfigMap("forbidden", ns, "glm-5")
	if err := waitFor(15*time.Second, func() bool {
		err := suite.client.Create(ctx, cm.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "main.deny: ConfigMaps named forbidden are not allowed")
	}); err != nil {
		t.Fatal("the new policy never took effect")
	}
	os.Remove(file)
	removed = true
	if err := waitFor(15*time.Second, func() bool {
		return suite.client.Create(ctx, cm.DeepCopy(), client.DryRunAll) == nil
	}); err != nil {
		t.Fatal("the removed policy still applies")
	}
}
