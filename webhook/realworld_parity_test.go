package webhook_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
)

// realWorld is the corpus of upstream manifests (testdata/realworld/SOURCES.md).
const realWorld = "../testdata/realworld"

// systemNamespaces are created by the API server itself and carry no
// gjallar.dev/ignore label; the corpus applies objects to some of them.
// kube-system is absent: the chart's webhooks skip it by name already.
var systemNamespaces = map[string]bool{"default": true, "kube-public": true, "kube-node-lease": true}

// realWorldRejectedByAPIServer lists the corpus objects the API server
// refuses (by unit and object), and why: upstream documentation fragments
// and deliberately invalid test inputs. Any other refusal fails the test,
// so the corpus cannot quietly shrink what parity covers.
var realWorldRejectedByAPIServer = map[string]string{
	"aws-lbc/examples-echo_server Ingress echoserver/echoserver":                              "a rule with a host and no http paths",
	"aws-lbc/gateway-customization HTTPRoute example-ns/my-http-app-route":                    "a backendRef port written as the placeholder <your service port>",
	"aws-lbc/gateway-l7gateway HTTPRoute example-ns/my-http-app-route":                        "a backendRef port written as the placeholder <your service port>",
	"aws-lbc/gateway-targetgroupconfig GatewayClass gateway.k8s.aws/alb":                      "a name with a slash",
	"aws-lbc/use_cases-frontend_sg Ingress default/frontend":                                  "a fragment showing one annotation: neither rules nor a default backend",
	"aws-lbc/use_cases-frontend_sg Service default/frontend":                                  "a fragment showing one annotation: no ports",
	"aws-lbc/use_cases-legacy_app_integration Ingress default/":                               "no name",
	"aws-lbc/use_cases-nlb_tls_termination Service dev/MyAppSvc":                              "an upper-case name",
	"bifrost/docs-deployment-guides-enterprise-on-premise Secret bifrost/bifrost-pull-secret": "data written as a placeholder, not base64",
	"gateway-api/conformance Gateway gateway-conformance-infra/gateway-static-addresses":      "addresses written as placeholders the conformance suite fills in",
	"gateway-api/conformance GatewayClass gatewayclass-observed-generation-bump":              "a controllerName written as a placeholder the conformance suite fills in",
	"kgateway/translator-delegation-unresolved-ref HTTPRoute a/route-a":                       "a backendRef without a name: the translator test's invalid input",
}

// TestRealWorldParity runs the real-world corpus through both doors, one
// unit (what upstream applies together) at a time, as TestLintWebhookParity
// runs the fixtures. Each unit's objects keep the namespaces upstream gives
// them, and objects without one go to "default", as `gjallar lint
// --default-namespace default` places them: renaming namespaces would
// change what the objects mean (kgateway's delegation to namespace "all",
// Service host names such as bifrost.default.svc inside Bifrost configs,
// ReferenceGrants naming the namespaces they admit). Units cannot clash
// because each one is deleted, and forgotten by the webhook's cache, before
// the next is created; only Namespaces outlive their unit (envtest cannot
// delete them), and lint is given them as the cluster holds them. Only what the API server accepts is compared: objects
// of kinds it does not serve, and objects it rejects, are left out of both
// doors and counted per unit.
//
// It also holds the webhook to issue 9's promise: kgateway's delegating
// HTTPRoutes (a backendRef to a child HTTPRoute by name or "*", or to a
// delegation label) are admitted.
func TestRealWorldParity(t *testing.T) {
	requireEnv(t)
	installParityWebhooks(t)
	restoreSystemNamespaces(t)
	engine := parityEngine(t)
	units := realWorldUnits(t)
	var total realWorldTally
	rejected := map[string]bool{}
	ran := map[string]bool{}
	for _, unit := range units {
		t.Run(unit, func(t *testing.T) {
			ran[unit] = true
			tally := realWorldUnit(t, engine, unit, rejected)
			t.Logf("%d objects: %d compared (%d through the webhook: %d denied, %d warned), %d not Kubernetes objects, %d of kinds not served, %d rejected by the API server, %d duplicates",
				tally.objects, tally.compared, tally.judged, tally.denied, tally.warned, tally.notObjects, tally.notServed, tally.rejected, tally.duplicates)
			total.add(tally)
		})
	}
	for key := range realWorldRejectedByAPIServer {
		if unit, _, _ := strings.Cut(key, " "); ran[unit] && !rejected[key] {
			t.Errorf("realWorldRejectedByAPIServer lists %s, which the API server accepts now", key)
		}
	}
	if len(ran) < len(units) {
		return // a subset was asked for (-run): the totals below are for the corpus
	}
	t.Logf("%d units, %d objects: %d compared (%d through the webhook: %d denied, %d warned); left out: %d standalone configs, %d of kinds not served %v, %d rejected by the API server, %d duplicates",
		len(units), total.objects, total.compared, total.judged, total.denied, total.warned, total.notObjects, total.notServed, sortedKinds(total.unserved), total.rejected, total.duplicates)
	t.Logf("delegating HTTPRoutes admitted: %d to a named child, %d to \"*\", %d by label, %d across namespaces",
		total.delegation.named, total.delegation.wildcard, total.delegation.label, total.delegation.crossNamespace)
	if len(units) < 150 || total.judged < 800 || total.denied == 0 || total.warned == 0 {
		t.Errorf("only %d objects of %d units went through the webhook (%d denied, %d warned)", total.judged, len(units), total.denied, total.warned)
	}
	d := total.delegation
	if d.named == 0 || d.wildcard == 0 || d.label == 0 || d.crossNamespace == 0 {
		t.Errorf("the corpus no longer exercises every kind of kgateway delegation through the webhook: %+v", d)
	}
}

// realWorldTally counts what happened to a unit's objects.
type realWorldTally struct {
	objects    int
	compared   int
	judged     int // compared, and sent through the webhook (Namespaces are not)
	denied     int // compared, and the webhook denied it
	warned     int // compared, and the webhook warned
	notObjects int // standalone files (Bifrost config.json): nothing to apply
	notServed  int
	rejected   int
	duplicates int // a later object of the same kind and name replaces it
	unserved   map[string]int
	delegation delegationTally
}

func (t *realWorldTally) add(u realWorldTally) {
	t.objects += u.objects
	t.compared += u.compared
	t.judged += u.judged
	t.denied += u.denied
	t.warned += u.warned
	t.notObjects += u.notObjects
	t.notServed += u.notServed
	t.rejected += u.rejected
	t.duplicates += u.duplicates
	if t.unserved == nil {
		t.unserved = map[string]int{}
	}
	for k, n := range u.unserved {
		t.unserved[k] += n
	}
	t.delegation.named += u.delegation.named
	t.delegation.wildcard += u.delegation.wildcard
	t.delegation.label += u.delegation.label
	t.delegation.crossNamespace += u.delegation.crossNamespace
}

// delegationTally counts delegating routes by how they delegate (a route
// may count under several).
type delegationTally struct {
	named, wildcard, label, crossNamespace int
}

// add counts one more route that delegates as d says.
func (t *delegationTally) add(d delegationTally) {
	t.named += min(d.named, 1)
	t.wildcard += min(d.wildcard, 1)
	t.label += min(d.label, 1)
	t.crossNamespace += min(d.crossNamespace, 1)
}

// realWorldUnits lists testdata/realworld/<source>/<unit>.
func realWorldUnits(t *testing.T) []string {
	t.Helper()
	sources, err := os.ReadDir(realWorld)
	if err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, s := range sources {
		if !s.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(realWorld, s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range entries {
			if u.IsDir() {
				units = append(units, s.Name()+"/"+u.Name())
			}
		}
	}
	sort.Strings(units)
	return units
}

// realWorldItem is one object of a unit on its way through both doors.
type realWorldItem struct {
	doc           *lint.Document
	obj           *unstructured.Unstructured // as created; the server adds defaults
	ref           rules.ObjectRef
	gk            schema.GroupKind
	clusterScoped bool
	// answered holds the webhook's answer to a cluster-scoped object's
	// create, which no namespace keeps from the chart's webhooks.
	answered *verdict
}

// realWorldUnit runs one unit through both doors; rejected collects the
// refusals that realWorldRejectedByAPIServer expects.
func realWorldUnit(t *testing.T, engine *rules.Engine, unit string, rejected map[string]bool) realWorldTally {
	ctx := context.Background()
	var tally realWorldTally
	tally.unserved = map[string]int{}
	in, err := lint.Load([]string{filepath.Join(realWorld, unit)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Files that do not parse reach no cluster; lint reports them alone.
	in.Problems = nil
	tally.objects = len(in.Documents)

	// Objects placed as lint places them; a later object of the same kind,
	// namespace and name replaces an earlier one, as in lint's index and
	// with kubectl apply.
	mapper := suite.client.RESTMapper()
	var items []*realWorldItem
	last := map[rules.ObjectRef]int{}
	for _, d := range in.Documents {
		gk := d.Object.GroupKind()
		if d.Object.File() != nil {
			tally.notObjects++
			continue
		}
		gvk := schema.FromAPIVersionAndKind(rules.LookupString(d.Object.Content, "apiVersion"), gk.Kind)
		m, err := mapper.RESTMapping(gk, gvk.Version)
		if err != nil {
			tally.notServed++
			tally.unserved[gvk.GroupVersion().String()+"/"+gk.Kind]++
			continue
		}
		u := &unstructured.Unstructured{Object: deepCopy(d.Object.Content)}
		scoped := m.Scope.Name() == meta.RESTScopeNameRoot
		if !scoped && u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if isNamespace(gk) {
			// Namespaces cannot be deleted in envtest (no namespace
			// controller): they carry the label that keeps the chart's
			// webhooks away, so that context can be created in them.
			labels := u.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["gjallar.dev/ignore"] = "true"
			u.SetLabels(labels)
		}
		doc := *d
		doc.Object = rules.NewObject(deepCopy(u.Object))
		it := &realWorldItem{doc: &doc, obj: u, ref: doc.Object.Ref(), gk: gk, clusterScoped: scoped}
		if i, ok := last[it.ref]; ok {
			items[i] = nil
			tally.duplicates++
		}
		last[it.ref] = len(items)
		items = append(items, it)
	}

	// Namespaces first; every other object's namespace must exist and be
	// skipped by the chart's webhooks.
	namespaces := map[string]bool{}
	for _, it := range items {
		if it != nil && isNamespace(it.gk) {
			applyNamespace(t, it.obj)
			namespaces[it.obj.GetName()] = true
		}
	}
	for _, it := range items {
		if it != nil && !it.clusterScoped && !namespaces[it.obj.GetNamespace()] {
			realWorldNamespace(t, it.obj.GetNamespace())
			namespaces[it.obj.GetNamespace()] = true
		}
	}

	// Namespaced objects of the kinds the webhook caches are created as
	// context; the others are only checked to be accepted (a dry run), as
	// the webhook never looks them up. Cluster-scoped objects come last,
	// through the chart's webhooks, once their context is in the cache.
	var created []*unstructured.Unstructured
	defer func() { deleteCreated(t, created) }()
	accepted := func(it *realWorldItem, err error) bool {
		switch {
		case err == nil:
			return true
		case strings.Contains(err.Error(), "gjallar denied"):
			if it.clusterScoped {
				return true // the webhook's answer, compared below
			}
			t.Errorf("%s was judged in a namespace the chart's webhooks skip: %v", it.ref, err)
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			key := fmt.Sprintf("%s %s", unit, it.ref)
			if why, ok := realWorldRejectedByAPIServer[key]; ok {
				rejected[key] = true
				t.Logf("the API server rejects %s (%s)", it.ref, why)
			} else {
				t.Errorf("the API server rejects %s: %v", it.ref, err)
			}
		default:
			t.Fatalf("creating %s: %v", it.ref, err)
		}
		tally.rejected++
		return false
	}
	for i, it := range items {
		if it == nil || it.clusterScoped {
			continue
		}
		if isNamespace(it.gk) {
			continue // applied above
		}
		var err error
		if suite.index.Serves(it.gk) {
			err = suite.client.Create(ctx, it.obj)
			if err == nil {
				created = append(created, it.obj)
			}
		} else {
			err = suite.client.Create(ctx, it.obj.DeepCopy(), client.DryRunAll)
		}
		if !accepted(it, err) {
			items[i] = nil
		}
	}
	waitCreatedIndexed(t, created)
	var scopedCreated []*unstructured.Unstructured
	for i, it := range items {
		if it == nil || !it.clusterScoped || isNamespace(it.gk) {
			continue
		}
		suite.warnings.take()
		err := suite.client.Create(ctx, it.obj)
		it.answered = &verdict{denial: denialOf(err), warnings: gjallarWarnings()}
		if err == nil {
			created = append(created, it.obj)
			scopedCreated = append(scopedCreated, it.obj)
		}
		if !accepted(it, err) {
			items[i] = nil
		}
	}
	waitCreatedIndexed(t, scopedCreated)

	// Lint sees exactly the accepted objects, as written, and the
	// cluster's Namespaces (with the labels the API server adds); in the
	// cluster every object is known, so lint's input is complete.
	var docs []*lint.Document
	for _, it := range items {
		if it != nil && !isNamespace(it.gk) {
			docs = append(docs, it.doc)
		}
	}
	in.Documents = append(docs, clusterNamespaceDocs(namespaces)...)
	in.Complete = true
	byObject := lintByObject(engine, in)

	for _, it := range items {
		if it == nil {
			continue
		}
		expected := expectedVerdict(it.ref, it.gk, byObject[it.ref])
		var got verdict
		switch {
		case isNamespace(it.gk):
			// No webhook looks at Namespaces: lint must not report on one.
		case it.clusterScoped:
			got = *it.answered
			tally.judged++
		default:
			got = probeWebhook(ctx, it.obj, it.gk)
			tally.judged++
		}
		compareVerdicts(t, it.ref, expected, got)
		tally.compared++
		if got.denial != "" {
			tally.denied++
			t.Logf("both doors deny: %s", got.denial)
		}
		if len(got.warnings) > 0 {
			tally.warned++
		}
		if it.gk == (schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}) {
			if d := delegationsOf(it.doc.Object); d != (delegationTally{}) {
				if got.denial != "" || !got.probed {
					t.Errorf("delegating route %s was not admitted: %s", it.ref, got.denial)
					continue
				}
				tally.delegation.add(d)
			}
		}
	}
	return tally
}

// delegationsOf counts a route's delegating backendRefs the way kgateway
// recognises them: group gateway.networking.k8s.io and kind HTTPRoute (a
// named child, or "*" for every route of a namespace), or group
// delegation.kgateway.dev and kind label. The test defines this itself
// rather than asking the rules, which it is checking.
func delegationsOf(route *rules.Object) delegationTally {
	var d delegationTally
	for _, r := range rules.LookupList(route.Content, "spec", "rules") {
		rule, _ := r.(map[string]any)
		for _, b := range rules.LookupList(rule, "backendRefs") {
			ref, _ := b.(map[string]any)
			group, kind, name := rules.LookupString(ref, "group"), rules.LookupString(ref, "kind"), rules.LookupString(ref, "name")
			switch {
			case group == "gateway.networking.k8s.io" && kind == "HTTPRoute" && name == "*":
				d.wildcard++
			case group == "gateway.networking.k8s.io" && kind == "HTTPRoute":
				d.named++
			case group == "delegation.kgateway.dev" && kind == "label":
				d.label++
			default:
				continue
			}
			if ns := rules.LookupString(ref, "namespace"); ns != "" && ns != route.Namespace() {
				d.crossNamespace++
			}
		}
	}
	return d
}

func isNamespace(gk schema.GroupKind) bool { return gk == schema.GroupKind{Kind: "Namespace"} }

// realWorldNamespace makes sure ns exists and the chart's webhooks skip
// it. The API server's own namespaces are labelled for the test's run and
// given back afterwards (restoreSystemNamespaces).
func realWorldNamespace(t *testing.T, ns string) {
	t.Helper()
	if ns == "kube-system" {
		return // the chart's webhooks skip it by name
	}
	if !systemNamespaces[ns] {
		parityNamespace(t, ns)
		return
	}
	ctx := context.Background()
	var n corev1.Namespace
	if err := suite.client.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	if n.Labels["gjallar.dev/ignore"] == "true" {
		return
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["gjallar.dev/ignore"] = "true"
	if err := suite.client.Update(ctx, &n); err != nil {
		t.Fatal(err)
	}
	labelledSystemNamespaces[ns] = true
	waitIndexed(t, "Namespace", "", ns, n.ResourceVersion)
	// The API server reads namespace labels from its own informer: wait
	// until a labelled ConfigMap there reaches no chart webhook.
	if err := waitFor(30*time.Second, func() bool {
		return suite.client.Create(ctx, badConfigMap("probe", ns), client.DryRunAll) == nil
	}); err != nil {
		t.Fatalf("the chart's webhooks still judge namespace %s", ns)
	}
}

// labelledSystemNamespaces are the API server's namespaces this test
// labelled gjallar.dev/ignore.
var labelledSystemNamespaces = map[string]bool{}

// restoreSystemNamespaces removes the label from the API server's own
// namespaces when the test ends, and waits until the chart's webhooks
// judge objects there again, for the tests that follow.
func restoreSystemNamespaces(t *testing.T) {
	t.Cleanup(func() {
		ctx := context.Background()
		for ns := range labelledSystemNamespaces {
			var n corev1.Namespace
			if err := suite.client.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
				t.Error(err)
				continue
			}
			delete(n.Labels, "gjallar.dev/ignore")
			if err := suite.client.Update(ctx, &n); err != nil {
				t.Error(err)
				continue
			}
			if err := waitFor(30*time.Second, func() bool {
				return suite.client.Create(ctx, badConfigMap("probe", ns), client.DryRunAll) != nil
			}); err != nil {
				t.Errorf("the chart's webhooks no longer judge namespace %s", ns)
			}
			delete(labelledSystemNamespaces, ns)
		}
	})
}

func sortedKinds(counts map[string]int) []string {
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(out)
	return out
}
