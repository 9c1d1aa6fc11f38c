package webhook_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// TestReferenceGrantLookedUpInCluster: a cross-namespace backendRef is
// denied until a ReferenceGrant in the target namespace exists in the
// cluster, which the webhook finds in its cache.
func TestReferenceGrantLookedUpInCluster(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	routes, backends := namespace(t, "xo-routes"), namespace(t, "xo-backends")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "bifrost", Namespace: backends},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}, Selector: map[string]string{"app": "bifrost"}}}
	if err := suite.client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "Service", backends, svc.Name, svc.ResourceVersion)
	route := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "to-bifrost", "namespace": routes},
			"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{
				map[string]any{"name": "bifrost", "namespace": backends, "port": int64(8080)}}}}},
		}}
	}
	err := suite.client.Create(ctx, route())
	if err == nil || !strings.Contains(err.Error(), "httproute-reference-grant: backendRef to Service xo-backends/bifrost crosses namespaces") {
		t.Fatalf("create = %v, want a reference-grant denial", err)
	}
	grant := &gatewayv1beta1.ReferenceGrant{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-routes", Namespace: backends},
		Spec: gatewayv1beta1.ReferenceGrantSpec{
			From: []gatewayv1beta1.ReferenceGrantFrom{{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute", Namespace: gatewayv1beta1.Namespace(routes)}},
			To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
		},
	}
	if err := suite.client.Create(ctx, grant); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "ReferenceGrant.gateway.networking.k8s.io", backends, grant.Name, grant.ResourceVersion)
	if err := suite.client.Create(ctx, route()); err != nil {
		t.Errorf("with the grant in the cluster: %v", err)
	}
	// A port the Service does not expose is a warning, and still admitted.
	bad := route()
	bad.SetName("wrong-port")
	unstructured.SetNestedSlice(bad.Object, []any{map[string]any{"backendRefs": []any{
		map[string]any{"name": "bifrost", "namespace": backends, "port": int64(9090)}}}}, "spec", "rules")
	suite.warnings.take()
	if err := suite.client.Create(ctx, bad); err != nil {
		t.Fatalf("wrong port: %v", err)
	}
	if w := strings.Join(suite.warnings.take(), "\n"); !strings.Contains(w, "httproute-backend-exists") {
		t.Errorf("warnings = %q", w)
	}
}

// TestRWOClaimLookedUpInCluster: the access mode comes from the PVC in the
// cluster.
func TestRWOClaimLookedUpInCluster(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "xo-rwo")
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "bifrost-data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := suite.client.Create(ctx, pvc); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "PersistentVolumeClaim", ns, pvc.Name, pvc.ResourceVersion)
	d := bifrostDeployment("bifrost", ns, "", true)
	d.Spec.Replicas = ptr.To[int32](3)
	d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](1000)}
	err := suite.client.Create(ctx, d)
	if err == nil || !strings.Contains(err.Error(), "rwo-pvc-multi-attach") {
		t.Errorf("3 replicas on a ReadWriteOnce claim: %v, want a denial", err)
	}
}
