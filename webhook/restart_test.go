package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// laggingCache is a ConfigMap created in the API server and an index that
// still holds its previous data, as a replica's cache does while its watch
// is broken; request is an update of a Deployment reading it and carrying
// the given hash (none when it is empty).
type laggingCache struct {
	index     rules.Index
	engines   *webhook.EngineHolder
	live      string // the hash of the ConfigMap in the API server
	cached    string // the hash of the cache's copy
	namespace string
}

func newLaggingCache(t *testing.T, name string) *laggingCache {
	t.Helper()
	ctx := context.Background()
	ns := namespace(t, name)
	cm := bifrostConfigMap("config", ns, "new-model")
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	stale := bifrostConfigMap("config", ns, "old-model")
	stale.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	staleContent, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(stale)
	engine, _ := rules.NewEngine(builtin.Rules(), nil)
	return &laggingCache{
		index:   rules.NewMemIndex([]*rules.Object{rules.NewObject(staleContent)}),
		engines: webhook.NewEngineHolder(engine),
		live:    hashOf(t, cm), cached: hashOf(t, stale), namespace: ns,
	}
}

func (l *laggingCache) request(hash string) admission.Request {
	d := bifrostDeployment("bifrost", l.namespace, "config", false)
	if hash != "" {
		d.Spec.Template.Annotations = map[string]string{rollout.AnnotationConfigHash: hash}
	}
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	raw, _ := json.Marshal(d)
	req := admission.Request{}
	req.Operation = "UPDATE"
	req.Namespace = l.namespace
	req.Object.Raw = raw
	return req
}

// unreachableAPIServer is a client whose API server never answers.
func unreachableAPIServer(t *testing.T) client.Reader {
	t.Helper()
	down := rest.CopyConfig(suite.cfg)
	down.Host = "https://127.0.0.1:1"
	c, err := client.New(down, client.Options{Scheme: suite.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMutatorTrustsLiveConfigOverALaggingCache calls the mutating handler
// with an index that still holds an old ConfigMap and a live reader on the
// API server: a workload carrying the hash of the live ConfigMap keeps it.
func TestMutatorTrustsLiveConfigOverALaggingCache(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	l := newLaggingCache(t, "lagging")
	m := &webhook.Mutator{Engines: l.engines, Index: l.index, Live: suite.client}
	req := l.request(l.live)
	resp := m.Handle(ctx, req)
	if !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("the live hash was overwritten: %+v", resp.Patches)
	}
	// An API server that cannot be reached: unsure, so the hash is left
	// alone rather than replaced by the cache's.
	m.Live = unreachableAPIServer(t)
	if resp := m.Handle(ctx, req); !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("with the API server unreachable: %+v", resp.Patches)
	}
	// Without the live reader, the lagging cache would have won.
	m.Live = nil
	if resp := m.Handle(ctx, req); len(resp.Patches) != 1 {
		t.Errorf("control: want the lagging cache to patch, got %+v", resp.Patches)
	}
}

// TestMutatorReadsAConfigMapNotYetCached: a workload created together with
// its ConfigMap may reach the mutating webhook before the ConfigMap reaches
// its cache; the hash is then read live, not left out.
func TestMutatorReadsAConfigMapNotYetCached(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	l := newLaggingCache(t, "not-yet-cached")
	m := &webhook.Mutator{Engines: l.engines, Index: rules.NewMemIndex(nil), Live: suite.client}
	req := l.request("")
	req.Operation = "CREATE"
	resp := m.Handle(ctx, req)
	if len(resp.Patches) != 1 || !strings.Contains(fmt.Sprint(resp.Patches[0].Value), l.live) {
		t.Errorf("want the live hash %s stamped, got %+v", l.live, resp.Patches)
	}
	// Unreachable: nothing is stamped (the restart controller stamps it
	// when the config changes).
	m.Live = unreachableAPIServer(t)
	if resp := m.Handle(ctx, req); len(resp.Patches) != 0 {
		t.Errorf("with the API server unreachable: %+v", resp.Patches)
	}
}

// TestValidatorConfirmsAStaleHashLive: the validating handler, on a
// replica whose cache lags, neither denies the hash the live ConfigMap
// gives nor denies a hash that is really stale (the restart controller
// re-stamps it): the first passes silently, the second is a warning that
// names the live hash, not the cache's.
func TestValidatorConfirmsAStaleHashLive(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	l := newLaggingCache(t, "lagging-validate")
	v := &webhook.Validator{Engines: l.engines, Index: l.index, Live: suite.client}
	hashWarnings := func(resp admission.Response) []string {
		var out []string
		for _, w := range resp.Warnings {
			if strings.Contains(w, "config-rollout-hash") {
				out = append(out, w)
			}
		}
		return out
	}

	if resp := v.Handle(ctx, l.request(l.live)); !resp.Allowed || len(hashWarnings(resp)) != 0 {
		t.Errorf("the live hash: allowed %v, %v, warnings %q", resp.Allowed, resp.Result, hashWarnings(resp))
	}
	const old = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	resp := v.Handle(ctx, l.request(old))
	if w := hashWarnings(resp); !resp.Allowed || len(w) != 1 || !strings.Contains(w[0], l.live) || strings.Contains(w[0], l.cached) {
		t.Errorf("a really stale hash: allowed %v, %v, warnings %q (want one naming %s)", resp.Allowed, resp.Result, w, l.live)
	}
	v.Live = unreachableAPIServer(t)
	resp = v.Handle(ctx, l.request(l.live))
	if w := hashWarnings(resp); !resp.Allowed || len(w) != 1 || !strings.Contains(w[0], "could not confirm") {
		t.Errorf("with the API server unreachable: allowed %v, %v, warnings %q", resp.Allowed, resp.Result, w)
	}
	// Without the live reader, the lagging cache's verdict stands: a denial.
	v.Live = nil
	if resp := v.Handle(ctx, l.request(l.live)); resp.Allowed {
		t.Errorf("control: want the lagging cache to deny, got allowed with %q", resp.Warnings)
	}
}
