package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	"github.com/gjallar-dev/gjallar/rules/rollout"
	"github.com/gjallar-dev/gjallar/webhook"
)

const parityLabel = "gjallar.dev/parity"

// rejectedByAPIServer lists the fixtures that hold an object the API server
// refuses, on purpose: lint reports these mistakes before they reach a
// cluster. Any other fixture the API server refuses fails the test, so a
// broken fixture cannot quietly shrink what parity covers.
var rejectedByAPIServer = map[string]string{
	"parse-error/bad/bad-type.yaml":                       "a pod template that does not decode",
	"httproute-backend-exists/bad/missing-service.yaml":   "a Service backendRef without a port",
	"kgateway-gatewayclass/bad/no-namespace.yaml":         "an upper-case controllerName and a parametersRef without group",
	"httproute-backend-exists/good/placeholder-port.yaml": "a port written as a placeholder",
}

// TestLintWebhookParity runs every rule fixture and example through both
// doors and requires the same findings. Each fixture's objects are created
// in the cluster as context (in namespaces the webhooks skip), then each
// object is sent through the webhooks with a server-side dry-run update
// (copies of the chart's webhooks select it by a label instead of by
// namespace). The webhook's denial and warnings must equal what lint's
// findings for that object render to. Two differences are by design: the
// mutating webhook stamps the config hash, so lint's config-rollout-hash
// findings are checked as the stamped value instead; and the API server
// folds a Secret's stringData into data before admission.
func TestLintWebhookParity(t *testing.T) {
	requireEnv(t)
	installParityWebhooks(t)
	var fixtures []string
	for _, pattern := range []string{"../testdata/rules/*/*/*", "../testdata/examples/*"} {
		m, _ := filepath.Glob(pattern)
		fixtures = append(fixtures, m...)
	}
	checked := 0
	for _, f := range fixtures {
		f := f
		t.Run(strings.TrimPrefix(f, "../testdata/"), func(t *testing.T) {
			if parityFixture(t, f) {
				checked++
			}
		})
	}
	if checked < 30 {
		t.Errorf("only %d fixtures could be compared", checked)
	}
	t.Logf("%d of %d fixtures compared through lint and the webhook", checked, len(fixtures))
}

// installParityWebhooks copies the chart's webhook configurations, selecting
// objects by label rather than namespace.
func installParityWebhooks(t *testing.T) {
	ctx := context.Background()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{parityLabel: "check"}}
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "gjallar"}, &vwc); err != nil {
		t.Fatal(err)
	}
	copyV := &admissionregv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "parity-gjallar"}}
	for _, w := range vwc.Webhooks {
		w.Name = "parity-" + w.Name
		w.NamespaceSelector, w.ObjectSelector = nil, sel
		copyV.Webhooks = append(copyV.Webhooks, w)
	}
	var mwc admissionregv1.MutatingWebhookConfiguration
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "gjallar"}, &mwc); err != nil {
		t.Fatal(err)
	}
	copyM := &admissionregv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "parity-gjallar"}}
	for _, w := range mwc.Webhooks {
		w.Name = "parity-" + w.Name
		w.NamespaceSelector, w.ObjectSelector = nil, sel
		copyM.Webhooks = append(copyM.Webhooks, w)
	}
	for _, o := range []client.Object{copyV, copyM} {
		if err := suite.client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// Wait until the API server uses them: a labelled bad ConfigMap in a
	// skipped namespace is denied.
	ns := parityNamespace(t, "parity-probe")
	probe := badConfigMap("probe", ns)
	probe.Labels = map[string]string{parityLabel: "check"}
	if err := waitFor(30*time.Second, func() bool {
		return suite.client.Create(ctx, probe, client.DryRunAll) != nil
	}); err != nil {
		t.Fatal("parity webhooks never took effect")
	}
}

// applyNamespace creates a fixture's Namespace, or sets its labels on the
// existing one.
func applyNamespace(t *testing.T, u *unstructured.Unstructured) {
	ctx := context.Background()
	var n corev1.Namespace
	err := suite.client.Get(ctx, client.ObjectKey{Name: u.GetName()}, &n)
	if apierrors.IsNotFound(err) {
		if err := suite.client.Create(ctx, u.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	n.Labels = u.GetLabels()
	if err := suite.client.Update(ctx, &n); err != nil {
		t.Fatal(err)
	}
	waitFor(10*time.Second, func() bool {
		o := suite.index.Get(schema.GroupKind{Kind: "Namespace"}, "", n.Name)
		return o != nil && rules.LookupString(o.Content, "metadata", "resourceVersion") == n.ResourceVersion
	})
}

// parityNamespace makes sure ns exists and the chart's webhooks skip it.
func parityNamespace(t *testing.T, ns string) string {
	ctx := context.Background()
	var n corev1.Namespace
	err := suite.client.Get(ctx, client.ObjectKey{Name: ns}, &n)
	switch {
	case apierrors.IsNotFound(err):
		n = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"gjallar.dev/ignore": "true"}}}
		if err := suite.client.Create(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return ns
	case err != nil:
		t.Fatal(err)
	}
	if n.Labels["gjallar.dev/ignore"] != "true" {
		t.Fatalf("namespace %s is used by other tests; parity fixtures need their own", ns)
	}
	return ns
}

func parityFixture(t *testing.T, path string) bool {
	ctx := context.Background()
	in, err := lint.Load([]string{path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Problems) > 0 || len(in.Documents) == 0 {
		t.Skip("parse errors or no objects: nothing reaches a cluster")
	}
	mapper := suite.client.RESTMapper()
	type item struct {
		obj  *unstructured.Unstructured
		ref  rules.ObjectRef
		gk   schema.GroupKind
		skip bool
	}
	var items []*item
	for i, d := range in.Documents {
		gk := d.Object.GroupKind()
		if gk.Group == "gjallar.dev" {
			t.Skip("standalone configs are not Kubernetes objects")
		}
		m, err := mapper.RESTMapping(gk)
		if err != nil {
			t.Skipf("%s is not served by the test API server", gk)
		}
		content := deepCopy(d.Object.Content)
		u := &unstructured.Unstructured{Object: content}
		if gk.Kind == "Namespace" && gk.Group == "" {
			// Namespaces cannot be deleted in envtest (no namespace
			// controller); they carry the label that keeps webhooks away.
			labels := u.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["gjallar.dev/ignore"] = "true"
			u.SetLabels(labels)
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace && u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if u.GetNamespace() == "default" || u.GetNamespace() == gjallarNS {
			u.SetNamespace("parity-default")
		}
		// Created as `kubectl apply` creates it, with the last-applied
		// annotation (and kubectl's managedFields, below), which the
		// webhook's cache drops: findings must not depend on it.
		markApplied(t, u)
		// Lint sees the object exactly as it is created.
		in.Documents[i].Object = rules.NewObject(deepCopy(u.Object))
		items = append(items, &item{obj: u, ref: in.Documents[i].Object.Ref(), gk: gk})
	}
	// Namespaces first, as the cluster holds them (it adds labels of its
	// own), and lint is given those same Namespace objects: in the cluster
	// every namespace is known, so lint is told its input is complete.
	namespaces := map[string]bool{}
	for _, it := range items {
		if it.gk.Kind == "Namespace" && it.gk.Group == "" {
			applyNamespace(t, it.obj)
			namespaces[it.obj.GetName()] = true
		} else if ns := it.obj.GetNamespace(); ns != "" {
			parityNamespace(t, ns)
			namespaces[ns] = true
		}
	}
	var docs []*lint.Document
	for _, d := range in.Documents {
		if gk := d.Object.GroupKind(); !(gk.Kind == "Namespace" && gk.Group == "") {
			docs = append(docs, d)
		}
	}
	in.Documents = append(docs, clusterNamespaceDocs(namespaces)...)
	in.Complete = true
	byObject := lintByObject(parityEngine(t), in)

	// Create the fixture as context; webhooks skip these namespaces.
	var created []*unstructured.Unstructured
	defer func() { deleteCreated(t, created) }()
	clusterVerdicts := map[rules.ObjectRef]verdict{}
	for _, it := range items {
		if it.gk.Kind == "Namespace" && it.gk.Group == "" {
			it.skip = true // created above; no webhook looks at Namespaces
			clusterVerdicts[it.ref] = expectedVerdict(it.ref, it.gk, byObject[it.ref])
			continue
		}
		if it.obj.GetNamespace() != "" && !suite.index.Serves(it.gk) {
			continue // not context for any rule: checked by a dry-run create below
		}
		suite.warnings.take()
		err := suite.client.Create(ctx, it.obj, client.FieldOwner("kubectl-client-side-apply"))
		if it.obj.GetNamespace() == "" {
			// Cluster-scoped objects went through the webhook on create.
			clusterVerdicts[it.ref] = verdict{denial: denialOf(err), warnings: gjallarWarnings()}
			it.skip = true
		}
		if err != nil {
			if it.obj.GetNamespace() == "" && apierrors.IsForbidden(err) || strings.Contains(fmt.Sprint(err), "denied the request") {
				continue
			}
			for fixture, why := range rejectedByAPIServer {
				if strings.HasSuffix(path, fixture) {
					t.Skipf("the API server rejects %s (%s): %v", it.ref, why, err)
				}
			}
			t.Fatalf("the API server rejects %s: %v", it.ref, err)
		}
		created = append(created, it.obj)
	}
	waitCreatedIndexed(t, created)

	for _, it := range items {
		expected := expectedVerdict(it.ref, it.gk, byObject[it.ref])
		var got verdict
		if it.skip {
			got = clusterVerdicts[it.ref]
		} else {
			got = probeWebhook(ctx, it.obj, it.gk)
		}
		compareVerdicts(t, it.ref, expected, got)
	}
	return true
}

// parityEngine is what the webhook runs: the built-in rules, the built-in
// policies and the suite's policy directory.
func parityEngine(t *testing.T) *rules.Engine {
	t.Helper()
	set, err := policies.Load(policies.Options{Builtin: true, Paths: []string{suite.policyDir}})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	return engine
}

// lintByObject lints the input and groups the findings by object.
func lintByObject(engine *rules.Engine, in *lint.Input) map[rules.ObjectRef][]rules.Finding {
	byObject := map[rules.ObjectRef][]rules.Finding{}
	for _, f := range lint.Check(engine, in).Findings {
		byObject[f.Object] = append(byObject[f.Object], f.Finding)
	}
	return byObject
}

// clusterNamespaceDocs returns the named Namespaces as the webhook's cache
// holds them (with the labels the API server adds), as lint input.
func clusterNamespaceDocs(names map[string]bool) []*lint.Document {
	var docs []*lint.Document
	for ns := range names {
		var n *rules.Object
		waitFor(10*time.Second, func() bool {
			n = suite.index.Get(schema.GroupKind{Kind: "Namespace"}, "", ns)
			return n != nil
		})
		docs = append(docs, &lint.Document{Source: &lint.Source{Name: "cluster"}, Object: n})
	}
	return docs
}

// waitCreatedIndexed waits until the webhook's cache holds every created
// object of a cached kind at its current version.
func waitCreatedIndexed(t *testing.T, created []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range created {
		if !suite.index.Serves(u.GroupVersionKind().GroupKind()) {
			continue // not cached (Pods, Secrets): no rule looks it up
		}
		waitIndexed(t, u.GroupVersionKind().GroupKind().String(), u.GetNamespace(), u.GetName(), u.GetResourceVersion())
	}
}

// deleteCreated deletes the context objects and waits until the webhook's
// cache has forgotten them, so the next fixture starts from a clean cluster.
func deleteCreated(t *testing.T, created []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	for _, u := range created {
		// envtest runs no controllers, so finalizers (PVC protection)
		// would keep deleted objects around forever.
		if len(u.GetFinalizers()) > 0 {
			suite.client.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
		}
		if err := suite.client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	for _, u := range created {
		gk := u.GroupVersionKind().GroupKind()
		if !suite.index.Serves(gk) {
			continue
		}
		if err := waitFor(10*time.Second, func() bool { return suite.index.Get(gk, u.GetNamespace(), u.GetName()) == nil }); err != nil {
			t.Errorf("%s %s/%s is still in the webhook's cache after deletion", gk, u.GetNamespace(), u.GetName())
		}
	}
}

// probeWebhook sends obj through the parity webhooks as a server-side
// dry run: an update of the existing object when the webhook caches its
// kind (it was created as context), else a create (Pods are only checked
// on create).
func probeWebhook(ctx context.Context, obj *unstructured.Unstructured, gk schema.GroupKind) verdict {
	probe := obj.DeepCopy()
	labels := probe.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[parityLabel] = "check"
	probe.SetLabels(labels)
	suite.warnings.take()
	var err error
	if suite.index.Serves(gk) {
		err = suite.client.Update(ctx, probe, client.DryRunAll)
	} else {
		err = suite.client.Create(ctx, probe, client.DryRunAll)
	}
	got := verdict{denial: denialOf(err), warnings: gjallarWarnings()}
	got.hash, _, _ = unstructured.NestedString(probe.Object, "spec", "template", "metadata", "annotations", rollout.AnnotationConfigHash)
	got.probed = true
	return got
}

// compareVerdicts fails the test where the webhook's answer differs from
// what lint's findings render to.
func compareVerdicts(t *testing.T, ref rules.ObjectRef, fromLint, fromWebhook verdict) {
	t.Helper()
	if fromWebhook.denial != fromLint.denial {
		t.Errorf("%s denial differs\nlint:    %s\nwebhook: %s", ref, fromLint.denial, fromWebhook.denial)
	}
	if strings.Join(fromWebhook.warnings, "\n") != strings.Join(fromLint.warnings, "\n") {
		t.Errorf("%s warnings differ\nlint:    %q\nwebhook: %q", ref, fromLint.warnings, fromWebhook.warnings)
	}
	if fromLint.hash != "" && fromWebhook.probed && fromWebhook.denial == "" && fromWebhook.hash != fromLint.hash {
		t.Errorf("%s: webhook stamped %q, lint --fix would write %q", ref, fromWebhook.hash, fromLint.hash)
	}
}

// markApplied sets the annotation `kubectl apply` writes: the object as
// applied, in JSON.
func markApplied(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	applied, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[lastApplied] = string(applied) + "\n"
	u.SetAnnotations(annotations)
}

type verdict struct {
	denial   string
	warnings []string
	// hash is the config hash lint --fix would write, or the one the
	// mutating webhook stamped.
	hash string
	// probed marks an answer to a dry run, which the mutating webhook saw.
	probed bool
}

// expectedVerdict renders lint's findings for one object the way the
// webhook answers.
func expectedVerdict(ref rules.ObjectRef, gk schema.GroupKind, findings []rules.Finding) verdict {
	var v verdict
	var kept []rules.Finding
	for _, f := range findings {
		if f.Rule == kubechecks.ConfigRolloutHash.ID && f.Fix != nil {
			v.hash, _ = f.Fix.Edits[0].Value.(string)
			continue // the mutating webhook stamps it instead
		}
		if len(f.Path) > 0 && f.Path[0] == "stringData" && gk.Kind == "Secret" {
			f.Path = append(rules.Path{"data"}, f.Path[1:]...)
		}
		kept = append(kept, f)
	}
	v.denial, v.warnings = webhook.Verdict(ref, kept)
	if v.denial != "" {
		v.denial = "gjallar denied" + strings.SplitN(v.denial, "gjallar denied", 2)[1]
	}
	return v
}

// gjallarWarnings takes the warnings seen so far and keeps gjallar's: the
// API server adds its own (a deprecated annotation, a certificate that
// does not parse), which are no door's answer.
func gjallarWarnings() []string {
	var out []string
	for _, w := range suite.warnings.take() {
		if strings.HasPrefix(w, "gjallar ") {
			out = append(out, w)
		}
	}
	return out
}

// denialOf extracts gjallar's message from an API error.
func denialOf(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if i := strings.Index(msg, "gjallar denied"); i >= 0 {
		return msg[i:]
	}
	return "unexpected error: " + msg
}

func deepCopy(m map[string]any) map[string]any {
	return runtimeDeepCopy(m).(map[string]any)
}

func runtimeDeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = runtimeDeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = runtimeDeepCopy(e)
		}
		return out
	}
	return v
}
