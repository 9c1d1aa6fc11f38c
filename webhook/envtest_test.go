package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gjallar-dev/gjallar/charts"
	"github.com/gjallar-dev/gjallar/internal/envtestbin"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/webhook"
)

// The suite runs gjallar against a real kube-apiserver and etcd (envtest),
// built from the Go module proxy by tools/envtest-bins.sh. The webhook
// configurations come from the Helm chart, pointed at the local server;
// gjallar issues its own certificate and injects the CA, as in a cluster.
var suite struct {
	available   bool
	cfg         *rest.Config
	client      client.Client // collects warnings in warnings
	warnings    *warningCollector
	index       *webhook.ClusterIndex
	port        int
	metricsPort int
	caPEM       []byte
	configFile  string
	policyDir   string
	logs        *syncBuffer
	// replicaLogs holds the second replica's output.
	replicaLogs *syncBuffer
}

const gjallarNS = "gjallar-system"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		// No test will run (go test -run '^$' -bench .): the benchmarks
		// need no control plane, so do not start one.
		return m.Run()
	}
	assets := envtestbin.Dir()
	if assets == "" {
		if os.Getenv("GJALLAR_REQUIRE_ENVTEST") != "" {
			fmt.Fprintln(os.Stderr, "GJALLAR_REQUIRE_ENVTEST is set but no kube-apiserver/etcd were found; run tools/envtest-bins.sh")
			return 1
		}
		fmt.Fprintln(os.Stderr, "webhook: no kube-apiserver/etcd (run tools/envtest-bins.sh, or set KUBEBUILDER_ASSETS); envtest suites skip")
		return m.Run()
	}
	gatewayCRDs, err := envtestbin.ModuleDir("sigs.k8s.io/gateway-api")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			filepath.Join(gatewayCRDs, "config", "crd", "standard"),
			filepath.Join("..", "testdata", "crds"),
		},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer env.Stop()
	user, err := env.AddUser(envtest.User{Name: "gjallar-replica", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest user:", err)
		return 1
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := startGjallar(ctx, cfg, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "starting gjallar:", err)
		return 1
	}
	suite.available = true
	return m.Run()
}

func requireEnv(t *testing.T) {
	t.Helper()
	if !suite.available {
		t.Skip("no envtest binaries (tools/envtest-bins.sh builds them)")
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startReplica builds gjallar and runs `gjallar webhook` against the test
// API server; it stops with ctx.
func startReplica(ctx context.Context, kubeconfig []byte, certDir string, probePort int) error {
	dir := filepath.Dir(certDir)
	bin := filepath.Join(dir, "gjallar")
	build := exec.Command("go", "build", "-o", bin, "../cmd/gjallar")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "webhook", "--kubeconfig", kc,
		"--host", "127.0.0.1", "--port", fmt.Sprint(freePort()), "--cert-dir", certDir,
		"--namespace", gjallarNS, "--extra-dns-names", "localhost",
		"--config", suite.configFile, "--reload-interval", "200ms", "--policy", suite.policyDir,
		"--metrics-bind-address", "0", "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		"--watch-secrets") // as the in-process replica: whichever leads rolls on Secret changes
	cmd.Stdout, cmd.Stderr = suite.replicaLogs, suite.replicaLogs
	return cmd.Start()
}

func startGjallar(ctx context.Context, cfg *rest.Config, kubeconfig []byte) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := gatewayv1.Install(scheme); err != nil {
		return err
	}
	if err := gatewayv1beta1.Install(scheme); err != nil {
		return err
	}
	suite.cfg = cfg
	suite.warnings = &warningCollector{}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = suite.warnings
	c, err := client.New(wcfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	suite.client = c
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gjallarNS}}); err != nil {
		return err
	}
	suite.port = freePort()
	if err := installWebhookConfigs(ctx, c, suite.port); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gjallar-envtest")
	if err != nil {
		return err
	}
	suite.configFile = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(suite.configFile, []byte("rules: {}\n"), 0o644); err != nil {
		return err
	}
	certDir := filepath.Join(dir, "certs")
	suite.policyDir = filepath.Join(dir, "policies")
	if err := os.MkdirAll(suite.policyDir, 0o755); err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join("..", "testdata", "policies", "webhook", "inventory.rego"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(suite.policyDir, "inventory.rego"), src, 0o644); err != nil {
		return err
	}
	go projectCertSecret(ctx, c, certDir)

	// Logs go to a buffer the tests search for leaked secrets.
	suite.logs = &syncBuffer{}
	suite.replicaLogs = &syncBuffer{}
	logger := funcr.New(func(prefix, args string) { suite.logs.Write([]byte(prefix + " " + args + "\n")) }, funcr.Options{Verbosity: 10})
	log.SetLogger(logger)
	ctx = logr.NewContext(ctx, logger)

	// Replica 1 runs in this process (its index and logs are inspected);
	// replica 2 is the real binary in its own process, as a second pod
	// would be. Only replica 1's port is in the webhook configurations.
	indexes := make(chan *webhook.ClusterIndex, 1)
	suite.metricsPort = freePort()
	probes := []int{freePort(), freePort()}
	o := webhook.Options{
		RestConfig: cfg, ConfigFile: suite.configFile, ReloadInterval: 200 * time.Millisecond,
		Host: "127.0.0.1", Port: suite.port, CertDir: certDir, ManageCerts: true,
		Namespace: gjallarNS, ServiceName: "gjallar", ExtraDNSNames: []string{"localhost"},
		ValidatingName: "gjallar", MutatingName: "gjallar",
		MetricsAddr: fmt.Sprintf("127.0.0.1:%d", suite.metricsPort), ProbeAddr: fmt.Sprintf("127.0.0.1:%d", probes[0]),
		LeaderElect: true,
		// secrets_test.go: the restart controller rolls on Secret changes.
		WatchSecrets: true,
		OnIndex:      func(i *webhook.ClusterIndex) { indexes <- i },
		Extensions: func(cfg *rules.Config) ([]rules.Extension, error) {
			set, err := policies.Load(policies.Options{Builtin: true, Paths: []string{suite.policyDir}, Config: cfg, Timeout: 2 * time.Second, NoNetwork: true})
			if err != nil {
				return nil, err
			}
			return []rules.Extension{set}, nil
		},
		ExtensionsStamp: func() string { return policies.Stamp([]string{suite.policyDir}) },
	}
	go func() {
		if err := webhook.Run(ctx, o); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "gjallar webhook exited:", err)
		}
	}()
	if err := startReplica(ctx, kubeconfig, certDir, probes[1]); err != nil {
		return err
	}
	suite.index = <-indexes
	for _, p := range probes {
		if err := waitFor(60*time.Second, func() bool {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", p))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}); err != nil {
			return fmt.Errorf("replica on probe port %d never ready: %w", p, err)
		}
	}
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: gjallarNS, Name: "gjallar-webhook-cert"}, &secret); err != nil {
		return err
	}
	suite.caPEM = secret.Data["ca.crt"]
	// The API server picks up the injected CA asynchronously: wait until a
	// known-bad object is denied.
	return waitFor(30*time.Second, func() bool {
		err := c.Create(ctx, badConfigMap("probe", "default"), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "bifrost-providers-map")
	})
}

// installWebhookConfigs installs the chart's webhook configurations with
// the service reference replaced by the local server's URL.
func installWebhookConfigs(ctx context.Context, c client.Client, port int) error {
	objs, err := charts.Render("gjallar", gjallarNS, nil)
	if err != nil {
		return err
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ValidatingWebhookConfiguration":
			var vwc admissionregv1.ValidatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &vwc); err != nil {
				return err
			}
			for i := range vwc.Webhooks {
				vwc.Webhooks[i].ClientConfig = localClientConfig(port, *vwc.Webhooks[i].ClientConfig.Service.Path)
			}
			if err := c.Create(ctx, &vwc); err != nil {
				return err
			}
		case "MutatingWebhookConfiguration":
			var mwc admissionregv1.MutatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &mwc); err != nil {
				return err
			}
			for i := range mwc.Webhooks {
				mwc.Webhooks[i].ClientConfig = localClientConfig(port, *mwc.Webhooks[i].ClientConfig.Service.Path)
			}
			if err := c.Create(ctx, &mwc); err != nil {
				return err
			}
		}
	}
	return nil
}

func localClientConfig(port int, path string) admissionregv1.WebhookClientConfig {
	url := fmt.Sprintf("https://localhost:%d%s", port, path)
	return admissionregv1.WebhookClientConfig{URL: &url}
}

// projectCertSecret stands in for the kubelet, which projects the
// certificate Secret into the pod's cert directory; envtest has no kubelet.
func projectCertSecret(ctx context.Context, c client.Client, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	var last string
	for ctx.Err() == nil {
		var s corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: gjallarNS, Name: "gjallar-webhook-cert"}, &s); err == nil && len(s.Data["tls.crt"]) > 0 {
			if v := string(s.Data["tls.crt"]) + string(s.Data["tls.key"]); v != last {
				for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
					tmp := filepath.Join(dir, "."+k)
					os.WriteFile(tmp, s.Data[k], 0o600)
					os.Rename(tmp, filepath.Join(dir, k))
				}
				last = v
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("condition not met within %s", timeout)
}

// waitIndexed waits until the webhook's cache holds obj at its current
// resourceVersion, so cross-object rules see it.
func waitIndexed(t *testing.T, gk string, namespace, name, rv string) {
	t.Helper()
	kind := rulesGK(gk)
	err := waitFor(10*time.Second, func() bool {
		o := suite.index.Get(kind, namespace, name)
		return o != nil && rules.LookupString(o.Content, "metadata", "resourceVersion") == rv
	})
	if err != nil {
		t.Fatalf("%s %s/%s never reached the webhook's cache", gk, namespace, name)
	}
}

type warningCollector struct {
	mu   sync.Mutex
	list []string
}

func (w *warningCollector) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

// take returns and clears the warnings seen so far.
func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tlsClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(suite.caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
}

func writeFileAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
