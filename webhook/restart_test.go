package webhook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/rules/rollout"
	"github.com/gjallar-dev/gjallar/webhook"
)

// TestNoRollWithoutADataChange: a workload that never carried a hash is
// not rolled when its ConfigMap appears or when only the ConfigMap's
// metadata changes; it is when the data changes. It also has a problem
// (no fsGroup) admitted while that rule was off: the roll, which changes
// only the hash, must not be blocked by it.
func TestNoRollWithoutADataChange(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "no-roll")
	setConfig(t, "rules:\n  bifrost-fsgroup: {disabled: true}\n")
	d := bifrostDeployment("bifrost", ns, "late-config", true)
	if err := suite.client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	setConfig(t, "rules: {}\n")
	if _, ok := d.Spec.Template.Annotations[rollout.AnnotationConfigHash]; ok {
		t.Fatal("stamped although its ConfigMap does not exist yet")
	}
	cm := bifrostConfigMap("late-config", ns, "glm-5")
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	cm.Labels = map[string]string{"team": "ai"}
	if err := suite.client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	var current appsv1.Deployment
	if err := suite.client.Get(ctx, client.ObjectKeyFromObject(d), &current); err != nil {
		t.Fatal(err)
	}
	if current.Generation != d.Generation {
		t.Fatalf("rolled without a data change (generation %d -> %d)", d.Generation, current.Generation)
	}
	cm.Data["config.json"] = bifrostConfigMap("", "", "glm-5-air").Data["config.json"]
	if err := suite.client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	want := hashOf(t, cm)
	if err := waitFor(10*time.Second, func() bool {
		suite.client.Get(ctx, client.ObjectKeyFromObject(d), &current)
		return current.Spec.Template.Annotations[rollout.AnnotationConfigHash] == want
	}); err != nil {
		t.Fatalf("not rolled after the data changed (hash %q)", current.Spec.Template.Annotations[rollout.AnnotationConfigHash])
	}
}

// setConfig writes the webhook's config file and waits until a replica's
// engine uses it (observed through the fsGroup rule's verdict).
func setConfig(t *testing.T, text string) {
	t.Helper()
	if err := writeFileAtomic(suite.configFile, text); err != nil {
		t.Fatal(err)
	}
	disabled := strings.Contains(text, "bifrost-fsgroup: {disabled: true}")
	probe := bifrostDeployment("probe", "default", "", true)
	if err := waitFor(10*time.Second, func() bool {
		err := suite.client.Create(context.Background(), probe.DeepCopy(), client.DryRunAll)
		return (err == nil) == disabled
	}); err != nil {
		t.Fatalf("config %q never took effect", text)
	}
}

// TestMutatorTrustsLiveConfigOverALaggingCache calls the mutating handler
// with an index that still holds an old ConfigMap and a live reader on the
// API server: a workload carrying the hash of the live ConfigMap keeps it.
func TestMutatorTrustsLiveConfigOverALaggingCache(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "lagging")
	cm := bifrostConfigMap("config", ns, "new-model")
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	live := hashOf(t, cm)
	stale := bifrostConfigMap("config", ns, "old-model")
	stale.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	staleContent, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(stale)
	lagging := rules.NewMemIndex([]*rules.Object{rules.NewObject(staleContent)})
	engine, _ := rules.NewEngine(builtin.Rules(), nil)
	m := &webhook.Mutator{Engines: webhook.NewEngineHolder(engine), Index: lagging, Live: suite.client}

	d := bifrostDeployment("bifrost", ns, "config", false)
	d.Spec.Template.Annotations = map[string]string{rollout.AnnotationConfigHash: live}
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	raw, _ := json.Marshal(d)
	req := admission.Request{}
	req.Operation = "UPDATE"
	req.Namespace = ns
	req.Object.Raw = raw
	resp := m.Handle(ctx, req)
	if !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("the live hash was overwritten: %+v", resp.Patches)
	}
	// An API server that cannot be reached: unsure, so the hash is left
	// alone rather than replaced by the cache's.
	down := rest.CopyConfig(suite.cfg)
	down.Host = "https://127.0.0.1:1"
	unreachable, err := client.New(down, client.Options{Scheme: suite.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	m.Live = unreachable
	if resp := m.Handle(ctx, req); !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("with the API server unreachable: %+v", resp.Patches)
	}
	// Without the live reader, the lagging cache would have won.
	m.Live = nil
	if resp := m.Handle(ctx, req); len(resp.Patches) != 1 {
		t.Errorf("control: want the lagging cache to patch, got %+v", resp.Patches)
	}
}
