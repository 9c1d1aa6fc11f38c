package audit_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/internal/envtestbin"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// The suite runs the audit against a real kube-apiserver and etcd
// (envtest) with the Gateway API, kgateway and PolicyReport CRDs
// installed, and the gjallar binary built from this tree.
var suite struct {
	available  bool
	env        *envtest.Environment
	cfg        *rest.Config
	client     client.Client
	kubeconfig string // the admin's
	bin        string // gjallar
	dir        string
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		return m.Run() // benchmarks only
	}
	if envtestbin.Dir() == "" {
		if os.Getenv("GJALLAR_REQUIRE_ENVTEST") != "" {
			fmt.Fprintln(os.Stderr, "GJALLAR_REQUIRE_ENVTEST is set but no kube-apiserver/etcd were found; run tools/envtest-bins.sh")
			return 1
		}
		fmt.Fprintln(os.Stderr, "audit: no kube-apiserver/etcd (run tools/envtest-bins.sh, or set KUBEBUILDER_ASSETS); envtest suites skip")
		return m.Run()
	}
	log.SetLogger(logr.Discard()) // controller-runtime's clients log through it
	dir, err := os.MkdirTemp("", "gjallar-audit")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	suite.dir = dir
	env, cfg, kubeconfig, err := startControlPlane(dir, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	suite.env, suite.cfg, suite.kubeconfig = env, cfg, kubeconfig
	if suite.client, err = client.New(cfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.bin = filepath.Join(dir, "gjallar")
	build := exec.Command("go", "build", "-o", suite.bin, "../cmd/gjallar")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gjallar:", err)
		return 1
	}
	suite.available = true
	return m.Run()
}

// startControlPlane starts etcd and kube-apiserver with the CRDs and
// writes an admin kubeconfig under dir. A non-empty certDir keeps the API
// server's certificates there, so it can be stopped and started again
// with the same identity.
func startControlPlane(dir, certDir string) (*envtest.Environment, *rest.Config, string, error) {
	gateway, err := envtestbin.ModuleDir("sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, nil, "", err
	}
	openReports, err := envtestbin.ModuleDir("github.com/openreports/reports-api")
	if err != nil {
		return nil, nil, "", err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: envtestbin.Dir(),
		CRDDirectoryPaths: []string{
			filepath.Join(gateway, "config", "crd", "standard"),
			filepath.Join("..", "testdata", "crds"),
			filepath.Join("..", "charts", "gjallar", "files", "crds"),
			filepath.Join(openReports, "config", "crd"),
		},
		ErrorIfCRDPathMissing: true,
	}
	if certDir != "" {
		if err := os.MkdirAll(certDir, 0o700); err != nil {
			return nil, nil, "", err
		}
		env.ControlPlane.GetAPIServer().CertDir = certDir
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, "", fmt.Errorf("envtest: %w", err)
	}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		env.Stop()
		return nil, nil, "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		env.Stop()
		return nil, nil, "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	if certDir != "" {
		path = filepath.Join(dir, "kubeconfig-"+filepath.Base(certDir))
	}
	return env, cfg, path, os.WriteFile(path, kc, 0o600)
}

func requireEnv(t *testing.T) {
	t.Helper()
	if !suite.available {
		t.Skip("no envtest binaries (tools/envtest-bins.sh builds them)")
	}
}

// apply creates the YAML documents (namespaces first) with c.
func apply(t *testing.T, c client.Client, docs string) {
	t.Helper()
	var later []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "Namespace" {
			create(t, c, u)
			continue
		}
		later = append(later, u)
	}
	for _, u := range later {
		create(t, c, u)
	}
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating %s: %v", obj.GetName(), err)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	create(t, suite.client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// badConfigMap holds a Bifrost config whose providers are a list.
func badConfigMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{
		"config.json": `{"providers": [{"name": "openai", "keys": [{"value": "env.OPENAI_API_KEY", "weight": 1}]}]}`,
	}}
}

// createConfigMaps creates n plain ConfigMaps in ns, 16 at a time.
func createConfigMaps(t *testing.T, c client.Client, ns string, n int) {
	t.Helper()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for i := range work {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("plain-%05d", i)}, Data: map[string]string{"k": "v"}}
				if err := c.Create(context.Background(), cm); err != nil && !apierrors.IsAlreadyExists(err) {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// recorder is a transport that records the requests sent and can act on
// them (stop the API server mid-audit).
type recorder struct {
	mu       sync.Mutex
	requests []string
	failed   int
	onList   func(resource string, n int)
	lists    map[string]int
}

func (r *recorder) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			r.mu.Lock()
			r.requests = append(r.requests, req.Method+" "+req.URL.RequestURI())
			if r.lists == nil {
				r.lists = map[string]int{}
			}
			parts := strings.Split(req.URL.Path, "/")
			resource := parts[len(parts)-1]
			r.lists[resource]++
			n, hook := r.lists[resource], r.onList
			r.mu.Unlock()
			if hook != nil {
				hook(resource, n)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode >= 500 {
				r.mu.Lock()
				r.failed++
				r.mu.Unlock()
			}
			return resp, err
		})
	}
	return cfg
}

// listsOf returns the recorded requests for a resource.
func (r *recorder) listsOf(resource string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.requests {
		path, _, _ := strings.Cut(q, "?")
		if strings.HasSuffix(path, "/"+resource) {
			out = append(out, q)
		}
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newEngine(t *testing.T) (*rules.Engine, *policies.Set) {
	t.Helper()
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	return e, set
}

// summary lists findings as rule severity kind ns/name path: message.
func summary(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s %s: %s", f.Rule, f.Severity, f.Object, f.FieldPath(), f.Message))
	}
	return out
}

func onlyNamespaces(lines []string, nss ...string) []string {
	var out []string
	for _, l := range lines {
		for _, ns := range nss {
			if strings.Contains(l, " "+ns+"/") {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cond()
}

// TestPaging lists several thousand ConfigMaps in pages: every page is a
// limited LIST continuing the previous one, and a finding on the last page
// is found as surely as one on the first.
func TestPaging(t *testing.T) {
	requireEnv(t)
	const ns, n, pageSize = "paging", 3000, 500
	namespace(t, ns)
	createConfigMaps(t, suite.client, ns, n)
	for _, name := range []string{"aaa-first-page", "plain-01500-bad", "zzz-last-page"} {
		create(t, suite.client, badConfigMap(ns, name))
	}
	e, set := newEngine(t)
	rec := &recorder{}
	res, err := audit.Run(context.Background(), e, audit.Options{Config: rec.wrap(suite.cfg), Namespace: ns, PageSize: pageSize, PolicyKinds: set.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	lists := rec.listsOf("configmaps")
	// 3,003 ConfigMaps (envtest runs no controller to add kube-root-ca.crt):
	// seven pages of 500.
	if len(lists) != 7 {
		t.Errorf("%d LISTs of ConfigMaps, want 7:\n%s", len(lists), strings.Join(lists, "\n"))
	}
	for i, l := range lists {
		if !strings.Contains(l, "limit=500") || (i > 0) != strings.Contains(l, "continue=") || !strings.Contains(l, "/namespaces/"+ns+"/") {
			t.Errorf("LIST %d is not a page of the namespace: %s", i, l)
		}
	}
	if res.Listed < n+3 || res.Checked != n+3 || res.Incomplete() {
		t.Errorf("listed %d, checked %d, unread %v", res.Listed, res.Checked, res.Unread)
	}
	var bad []string
	for _, f := range res.Findings {
		if f.Rule == "bifrost-providers-map" {
			bad = append(bad, f.Object.Name)
		}
	}
	if strings.Join(bad, ",") != "aaa-first-page,plain-01500-bad,zzz-last-page" {
		t.Errorf("providers-map findings on %v", bad)
	}
	if int(res.Requests) != len(rec.requests) {
		t.Errorf("the audit counted %d requests, %d were sent", res.Requests, len(rec.requests))
	}
}

// TestKindWithoutCRD: GatewayClassConfig (kgateway.dev), which the rules
// check, is served by no cluster: it is not listed, and its absence does
// not make the audit incomplete.
func TestKindWithoutCRD(t *testing.T) {
	requireEnv(t)
	e, set := newEngine(t)
	rec := &recorder{}
	o := audit.Options{Config: rec.wrap(suite.cfg), Namespace: "default", PolicyKinds: set.Kinds()}
	wanted := fmt.Sprint(audit.Kinds(o))
	if !strings.Contains(wanted, "GatewayClassConfig.kgateway.dev") || !strings.Contains(wanted, "GatewayParameters.gateway.kgateway.dev") {
		t.Fatalf("kinds %s lack the kgateway kinds", wanted)
	}
	res, err := audit.Run(context.Background(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete() || len(res.Unread) != 0 {
		t.Errorf("unread: %v", res.Unread)
	}
	if l := rec.listsOf("gatewayclassconfigs"); len(l) != 0 {
		t.Errorf("listed a kind the server does not serve: %v", l)
	}
	if l := rec.listsOf("gatewayparameters"); len(l) != 1 {
		t.Errorf("GatewayParameters (installed) listed %d times", len(l))
	}
}

// TestForbiddenKind audits as a user who may list everything the rules
// read but Services: the refusal is reported once, the audit goes on, and
// the rule that needed Services says it could not judge the route instead
// of claiming its Service does not exist.
func TestForbiddenKind(t *testing.T) {
	requireEnv(t)
	const ns = "forbidden"
	apply(t, suite.client, `
apiVersion: v1
kind: Namespace
metadata: {name: forbidden}
---
apiVersion: v1
kind: Service
metadata: {name: vllm, namespace: forbidden}
spec:
  ports: [{port: 8000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: chat, namespace: forbidden}
spec:
  rules:
    - backendRefs: [{name: vllm, port: 8000}]
`)
	create(t, suite.client, badConfigMap(ns, "bifrost"))
	create(t, suite.client, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "auditor-but-services"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"", "apps", "batch", "autoscaling", "gateway.networking.k8s.io", "gateway.kgateway.dev"},
			Resources: []string{"configmaps", "namespaces", "persistentvolumeclaims", "pods", "deployments", "statefulsets", "daemonsets",
				"replicasets", "jobs", "cronjobs", "horizontalpodautoscalers", "gateways", "gatewayclasses", "httproutes",
				"referencegrants", "gatewayparameters", "grpcroutes", "tlsroutes"},
			Verbs: []string{"get", "list"},
		}},
	})
	create(t, suite.client, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "auditor-but-services"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "auditor-but-services"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "auditor", APIGroup: "rbac.authorization.k8s.io"}},
	})
	e, set := newEngine(t)
	backendFindings := func(res *audit.Result) []string {
		var out []string
		for _, f := range res.Findings {
			if f.Rule == "httproute-backend-exists" {
				out = append(out, fmt.Sprintf("%s %s %v", f.Object.Name, f.Message, f.Unjudged))
			}
		}
		return out
	}
	admin, err := audit.Run(context.Background(), e, audit.Options{Config: suite.cfg, Namespace: ns, PolicyKinds: set.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	if got := backendFindings(admin); len(got) != 0 || len(admin.Unread) != 0 {
		t.Fatalf("as admin: %v, unread %v", got, admin.Unread)
	}

	as := rest.CopyConfig(suite.cfg)
	as.Impersonate = rest.ImpersonationConfig{UserName: "auditor"}
	res, err := audit.Run(context.Background(), e, audit.Options{Config: as, Namespace: ns, PolicyKinds: set.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unread) != 1 {
		t.Fatalf("unread = %+v, want Services alone", res.Unread)
	}
	u := res.Unread[0]
	if u.Kind != rules.ServiceKind || u.Verb != "list" || !u.Forbidden || u.Namespace != ns || res.Incomplete() ||
		!strings.Contains(u.Message(), `may not list services (Service) in namespace forbidden: services is forbidden: User "auditor" cannot list resource "services"`) {
		t.Errorf("unread = %+v: %s", u, u.Message())
	}
	got := backendFindings(res)
	if len(got) != 1 || !strings.HasPrefix(got[0], "chat could not judge this object: the rule reads Service") {
		t.Errorf("as auditor: %q", got)
	}
	providers := 0
	for _, f := range res.Findings {
		if f.Rule == "bifrost-providers-map" {
			providers++
		}
	}
	if providers != 1 {
		t.Errorf("the audit did not go on past the refusal: %d providers-map findings", providers)
	}

	// The CLI says it once, on stderr, and exits 1 for the error finding
	// the audit still made; the JSON report carries the notice.
	kc := writeImpersonatingKubeconfig(t, "auditor")
	cmd := exec.Command(suite.bin, "audit", "--kubeconfig", kc, "-n", ns, "--format", "json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if code := exitCode(err); code != 1 {
		t.Errorf("exit %d, want 1: %s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "may not list services"); n != 1 {
		t.Errorf("stderr names the refusal %d times:\n%s", n, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"notices"`) || !strings.Contains(stdout.String(), "could not judge this object") {
		t.Errorf("json output:\n%s", stdout.String())
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// writeImpersonatingKubeconfig writes the admin kubeconfig acting as user.
func writeImpersonatingKubeconfig(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(suite.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecrets: Secrets are read only with --secrets, and then only in the
// audited namespace; a Bifrost config kept in one is checked, and no
// output format prints its values.
func TestSecrets(t *testing.T) {
	requireEnv(t)
	const ns, sentinel = "secrets", "sk-SENTINEL-never-printed-4242"
	namespace(t, ns)
	create(t, suite.client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bifrost"}, StringData: map[string]string{
		"config.json": `{"providers": [{"name": "openai", "keys": [{"value": "` + sentinel + `", "weight": 1}]}],
		"plugins": [{"enabled": true, "name": "otel", "config": {"trace_type": "genai_extension", "protocol": "http",
		"collector_url": "http://langfuse/api/public/otel/v1/traces", "headers": {"Authorization": "Basic ` + sentinel + `"}}}]}`,
	}})
	secretFindings := func(res *audit.Result) int {
		n := 0
		for _, f := range res.Findings {
			if f.Object.Kind == "Secret" {
				n++
			}
		}
		return n
	}
	e, set := newEngine(t)
	rec := &recorder{}
	res, err := audit.Run(context.Background(), e, audit.Options{Config: rec.wrap(suite.cfg), Namespace: ns, PolicyKinds: set.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	if l := rec.listsOf("secrets"); len(l) != 0 || secretFindings(res) != 0 {
		t.Errorf("without --secrets: %d Secret LISTs, %d findings on Secrets", len(l), secretFindings(res))
	}
	rec = &recorder{}
	res, err = audit.Run(context.Background(), e, audit.Options{Config: rec.wrap(suite.cfg), Namespace: ns, Secrets: true, PolicyKinds: set.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	if l := rec.listsOf("secrets"); len(l) != 1 || !strings.Contains(l[0], "/namespaces/"+ns+"/secrets") || secretFindings(res) < 2 {
		t.Errorf("with --secrets: LISTs %v, %d findings on Secrets", l, secretFindings(res))
	}
	for _, format := range []string{"text", "json", "sarif", "github", "policyreport"} {
		cmd := exec.Command(suite.bin, "audit", "--kubeconfig", suite.kubeconfig, "-n", ns, "--secrets", "--format", format)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "Secret") {
			t.Errorf("%s: no finding on the Secret:\n%s", format, out)
		}
		if strings.Contains(string(out), "SENTINEL") {
			t.Errorf("%s output prints a Secret value:\n%s", format, out)
		}
	}
}
