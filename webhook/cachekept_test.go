package webhook_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// TestCacheKeepsWhatRulesRead applies a Deployment as kubectl does (the
// last-applied annotation, kubectl's managedFields) and gives it a status,
// as the cluster's controllers would: the webhook's cache keeps its spec,
// labels and other annotations, and none of the three, and the status
// update is no change for the rules' facts. A Namespace is kept as
// metadata. The cache metrics count them.
func TestCacheKeepsWhatRulesRead(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cache-kept", Labels: map[string]string{"team": "search"}}}
	if err := suite.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	d := bifrostDeployment("bifrost", ns.Name, "", false)
	d.Annotations = map[string]string{"team.example.com/owner": "search"}
	applied, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	d.Annotations[lastApplied] = string(applied)
	if err := suite.client.Create(ctx, d, client.FieldOwner("kubectl-client-side-apply")); err != nil {
		t.Fatal(err)
	}
	if len(d.ManagedFields) == 0 {
		t.Fatal("the API server recorded no managedFields: the test would prove nothing")
	}
	waitIndexed(t, "Deployment.apps", ns.Name, d.Name, d.ResourceVersion)
	deployments := []schema.GroupKind{rules.DeploymentKind}
	// The informer stores the object before its handlers count the change:
	// take the version once it has settled.
	var created uint64
	waitFor(10*time.Second, func() bool {
		_, before, _ := suite.index.Version(deployments)
		time.Sleep(200 * time.Millisecond)
		_, created, _ = suite.index.Version(deployments)
		return before == created && created > 0
	})
	d.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ObservedGeneration: d.Generation}
	if err := suite.client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "Deployment.apps", ns.Name, d.Name, d.ResourceVersion)
	if _, v, _ := suite.index.Version(deployments); v != created {
		t.Errorf("a status update changed the Deployments the rules see (version %d -> %d)", created, v)
	}

	got := suite.index.Get(rules.DeploymentKind, ns.Name, d.Name).Content
	for _, absent := range [][]string{{"status"}, {"metadata", "managedFields"}, {"metadata", "annotations", lastApplied}} {
		if v, ok := rules.Lookup(got, rules.Path(absent)); ok {
			t.Errorf("the cache kept %v: %v", absent, v)
		}
	}
	if rules.LookupString(got, "metadata", "annotations", "team.example.com/owner") != "search" ||
		rules.LookupString(got, "metadata", "uid") != string(d.UID) {
		t.Errorf("the cache lost metadata: %v", got["metadata"])
	}
	containers := rules.LookupList(got, "spec", "template", "spec", "containers")
	if len(containers) != 1 || rules.LookupString(containers[0].(map[string]any), "image") != "maximhq/bifrost:v1.3.9" {
		t.Errorf("the cache lost the pod template: %v", got["spec"])
	}
	if replicas, _ := rules.Lookup(got, rules.P("spec", "replicas")); replicas != int64(1) {
		t.Errorf("spec.replicas = %#v, want int64(1) as the API machinery decodes it", replicas)
	}

	var n *rules.Object
	waitFor(10*time.Second, func() bool {
		n = suite.index.Get(schema.GroupKind{Kind: "Namespace"}, "", ns.Name)
		return n != nil
	})
	if n == nil || rules.LookupString(n.Content, "metadata", "labels", "team") != "search" {
		t.Fatalf("the Namespace's labels are not in the cache: %v", n)
	}
	for _, absent := range []string{"spec", "status"} {
		if _, ok := n.Content[absent]; ok {
			t.Errorf("a Namespace watched as metadata holds %s", absent)
		}
	}

	// A change the rules can see is one (a spec field no rule judges: two
	// replicas would now be denied by bifrost-sqlite-replicas).
	d.Spec.MinReadySeconds = 5
	if err := suite.client.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "Deployment.apps", ns.Name, d.Name, d.ResourceVersion)
	// The informer stores the object before its handlers count the change.
	if err := waitFor(10*time.Second, func() bool {
		_, v, _ := suite.index.Version(deployments)
		return v != created
	}); err != nil {
		t.Error("a spec change left the Deployments' version unchanged")
	}

	m := scrape(t)
	if m[`gjallar_cached_objects{kind="Deployment"}`] < 1 || m[`gjallar_cached_objects{kind="Namespace"}`] < 2 {
		t.Errorf("cached objects not counted: Deployment %v, Namespace %v", m[`gjallar_cached_objects{kind="Deployment"}`], m[`gjallar_cached_objects{kind="Namespace"}`])
	}
	if m[`gjallar_cached_object_bytes{kind="Deployment"}`] <= 0 {
		t.Error("cached bytes not counted")
	}
}
