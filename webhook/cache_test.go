package webhook

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var testIndexed = map[schema.GroupKind]bool{{Group: "apps", Kind: "Deployment"}: true, {Kind: "Namespace"}: true}

func kubectlDeployment() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": "bifrost", "namespace": "llm", "uid": "u-1", "resourceVersion": "7",
			"labels":        map[string]any{"app": "bifrost"},
			"annotations":   map[string]any{lastAppliedAnnotation: `{"kind":"Deployment"}`, "gjallar.dev/ignore": "bifrost-fsgroup"},
			"managedFields": []any{map[string]any{"manager": "kubectl-client-side-apply", "fieldsV1": map[string]any{"f:spec": map[string]any{}}}},
		},
		"spec":   map[string]any{"replicas": int64(2), "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "b", "image": "maximhq/bifrost"}}}}},
		"status": map[string]any{"replicas": int64(2)},
	}}
}

func TestTransformKeepsWhatRulesRead(t *testing.T) {
	out := transformForCache(kubectlDeployment(), testIndexed)
	c, ok := out.(*cachedObject)
	if !ok {
		t.Fatalf("transform returned %T", out)
	}
	if c.GetName() != "bifrost" || c.GetNamespace() != "llm" || c.GetUID() != "u-1" || c.GetResourceVersion() != "7" || c.Kind != "Deployment" {
		t.Errorf("identity not kept: %+v", c)
	}
	got, err := c.decode()
	if err != nil {
		t.Fatal(err)
	}
	want := kubectlDeployment().Object
	delete(want, "status")
	meta := want["metadata"].(map[string]any)
	delete(meta, "managedFields")
	delete(meta["annotations"].(map[string]any), lastAppliedAnnotation)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kept\n%#v\nwant\n%#v", got, want)
	}
	if again := transformForCache(c, testIndexed); again != c {
		t.Error("transforming a transformed object changed it")
	}
}

func TestTransformLeavesOtherKindsWhole(t *testing.T) {
	u := kubectlDeployment()
	u.SetKind("ReplicaSet")
	out, ok := transformForCache(u, testIndexed).(*unstructured.Unstructured)
	if !ok {
		t.Fatal("an unindexed kind was compacted")
	}
	if out.GetManagedFields() != nil || out.Object["status"] == nil || out.GetAnnotations()[lastAppliedAnnotation] == "" {
		t.Errorf("an unindexed kind lost more than its managedFields: %v", out.Object)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}}
	if out := transformForCache(secret, testIndexed).(*corev1.Secret); out.ManagedFields != nil {
		t.Error("a typed object kept its managedFields")
	}
}

func TestTransformMetadataOnly(t *testing.T) {
	ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "llm", UID: "u-2", Labels: map[string]string{IgnoreNamespaceLabel: "true"},
		Annotations: map[string]string{lastAppliedAnnotation: "{}"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	ns.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	c, ok := transformForCache(ns, testIndexed).(*cachedObject)
	if !ok {
		t.Fatal("a Namespace's metadata was not compacted")
	}
	got, err := decodeCompact(c.content)
	if err != nil {
		t.Fatal(err)
	}
	u := unstructured.Unstructured{Object: got}
	if u.GetKind() != "Namespace" || u.GetAPIVersion() != "v1" || u.GetName() != "llm" || u.GetLabels()[IgnoreNamespaceLabel] != "true" {
		t.Errorf("Namespace kept as %v", got)
	}
	if u.GetManagedFields() != nil || len(u.GetAnnotations()) != 0 {
		t.Errorf("Namespace kept managedFields or the last-applied annotation: %v", got)
	}
}

// An object holding a value no JSON decoder makes is kept as it came
// (stripped), never dropped: the informer must not fail on it.
func TestTransformFallsBack(t *testing.T) {
	u := kubectlDeployment()
	u.Object["spec"].(map[string]any)["odd"] = struct{}{}
	out, ok := transformForCache(u, testIndexed).(*unstructured.Unstructured)
	if !ok {
		t.Fatal("an object that cannot be compacted was not kept as it came")
	}
	if out.GetManagedFields() != nil || out.Object["status"] != nil {
		t.Error("the object kept as it came was not stripped")
	}
}

// Versions that differ only in what the cache drops (a status update: new
// status, resourceVersion and managedFields) are the same for the rules;
// a spec change is not. Equal objects encode alike whatever the map order.
func TestSameForRules(t *testing.T) {
	base := transformForCache(kubectlDeployment(), testIndexed)
	statusOnly := kubectlDeployment()
	statusOnly.SetResourceVersion("8")
	statusOnly.Object["status"] = map[string]any{"replicas": int64(3), "readyReplicas": int64(3)}
	statusOnly.SetManagedFields(nil)
	if !sameForRules(base, transformForCache(statusOnly, testIndexed)) {
		t.Error("a status update counts as a change")
	}
	for range 20 {
		if !sameForRules(base, transformForCache(kubectlDeployment(), testIndexed)) {
			t.Fatal("the same object encoded to different bytes")
		}
	}
	specChange := kubectlDeployment()
	specChange.SetResourceVersion("9")
	specChange.Object["spec"].(map[string]any)["replicas"] = int64(3)
	if sameForRules(base, transformForCache(specChange, testIndexed)) {
		t.Error("a spec change does not count as a change")
	}
}
