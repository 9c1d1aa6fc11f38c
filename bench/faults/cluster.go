// Package faults puts gjallar's webhook through the faults of a real
// cluster while admission load runs, and counts what fails: rolling
// restarts, leader failover and API server outages. The Go tests in this
// package run each scenario (CI runs them); `go test -v ./bench/faults`
// prints the figures RELIABILITY.md gives.
//
// The cluster is as close to a real one as this machine allows: etcd and
// two kube-apiservers (an HA control plane) from the envtest binaries, with
// --enable-aggregator-routing so that they call the webhooks at their
// Service's endpoints, as in a cluster, rather than at a URL. The harness
// plays the parts that are missing: the kubelet (it starts and signals
// `gjallar webhook` processes, projects the certificate Secret into their
// certificate directories, and probes their readiness) and the endpoint
// controller (it keeps one EndpointSlice per replica, listing it ready or
// not, or terminating). Replicas listen on this machine's non-loopback
// address, since EndpointSlices refuse loopback ones, and present the
// certificate gjallar issues itself, for the Service's DNS name.
package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/charts"
	"github.com/gjallar-dev/gjallar/internal/envtestbin"
)

// Namespace is where gjallar runs, as the chart installs it.
const Namespace = "gjallar-system"

// ServiceName is the webhook's Service; the serving certificate is for
// ServiceName.Namespace.svc.
const ServiceName = "gjallar"

// Options configures a Cluster.
type Options struct {
	// Dir holds everything the cluster writes (created).
	Dir string
	// Stacks of bench/corpus to seed (compliant), for the direct-review
	// load of the overload scenario; 0 seeds none.
	Stacks int
	// CRDDirs are installed before seeding (the Gateway API's, kgateway's).
	CRDDirs []string
	// Logf reports progress; nil for quiet.
	Logf func(format string, args ...any)
}

// Cluster is the control plane, gjallar's webhook configurations and
// Service, and the gjallar binary the replicas run.
type Cluster struct {
	Dir string
	// NodeIP is the non-loopback address replicas listen on.
	NodeIP string
	// Bin is the gjallar binary.
	Bin string
	// Admin is a client of the second API server, which stays up through
	// the outage scenario; the harness and the load use it.
	Admin       client.Client
	AdminConfig *rest.Config
	// FirstConfig reaches the first API server, the one replicas use.
	FirstConfig *rest.Config
	// ReplicaKubeconfig is the replicas' kubeconfig (the first API server).
	ReplicaKubeconfig string

	env  *envtest.Environment
	api2 *envtest.APIServer
	logf func(string, ...any)
}

// apiServerFlags are what both API servers run with besides envtest's.
func apiServerFlags(s *envtest.APIServer) {
	args := s.Configure()
	// Call webhooks at their Service's endpoints, as in a cluster.
	args.Set("enable-aggregator-routing", "true")
	// Two API servers share etcd; each registers itself with a lease.
	args.Set("endpoint-reconciler-type", "lease")
	// Close watches on stop rather than wait for clients to end them.
	args.Set("shutdown-watch-termination-grace-period", "2s")
}

// Start brings the cluster up. Stop it with Stop.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	assets := envtestbin.Dir()
	if assets == "" {
		return nil, errors.New("no kube-apiserver/etcd: run tools/envtest-bins.sh or set KUBEBUILDER_ASSETS")
	}
	ip, err := NodeIP()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir, NodeIP: ip, logf: o.Logf}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := c.build(ctx); err != nil {
		return nil, err
	}
	// Fixed certificate directories: a restarted API server keeps its
	// serving certificate (and port), as a real one does.
	api1 := &envtest.APIServer{CertDir: filepath.Join(o.Dir, "apiserver-1")}
	if err := os.MkdirAll(api1.CertDir, 0o755); err != nil {
		return nil, err
	}
	if api1.Err, err = os.Create(filepath.Join(o.Dir, "apiserver-1.log")); err != nil {
		return nil, err
	}
	apiServerFlags(api1)
	c.env = &envtest.Environment{
		BinaryAssetsDirectory: assets, CRDDirectoryPaths: o.CRDDirs, ErrorIfCRDPathMissing: true,
		ControlPlane: envtest.ControlPlane{APIServer: api1},
	}
	cfg, err := c.env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	c.FirstConfig = cfg
	user, err := c.env.AddUser(envtest.User{Name: "gjallar-replica", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		c.Stop()
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.ReplicaKubeconfig = filepath.Join(o.Dir, "replica.kubeconfig")
	if err := os.WriteFile(c.ReplicaKubeconfig, kc, 0o600); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.startSecondAPIServer(assets); err != nil {
		c.Stop()
		return nil, err
	}
	o.Logf("control plane up (two API servers) in %s", time.Since(start).Round(time.Millisecond))
	if o.Stacks > 0 {
		// Before the webhook configurations: nothing answers them yet.
		n, err := c.seed(ctx, o.Stacks)
		if err != nil {
			c.Stop()
			return nil, err
		}
		o.Logf("seeded %d objects", n)
	}
	if err := c.install(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// startSecondAPIServer runs another kube-apiserver on the same etcd,
// trusting the same client certificates, and makes Admin its client.
func (c *Cluster) startSecondAPIServer(assets string) error {
	first := c.env.ControlPlane.APIServer
	c.api2 = &envtest.APIServer{
		CertDir: filepath.Join(c.Dir, "apiserver-2"),
		EtcdURL: c.env.ControlPlane.Etcd.URL,
		Path:    filepath.Join(assets, "kube-apiserver"),
	}
	c.api2.SecureServing.Authn = first.SecureServing.Authn
	if err := os.MkdirAll(c.api2.CertDir, 0o755); err != nil {
		return err
	}
	apiServerFlags(c.api2)
	if err := c.api2.Start(); err != nil {
		return fmt.Errorf("starting the second API server: %w", err)
	}
	base := &rest.Config{
		Host:            c.api2.SecureServing.URL("https", "/").Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.api2.SecureServing.CA},
		QPS:             -1, // no client-side limit: the load is the point
	}
	cfg, err := c.api2.SecureServing.AddUser(envtest.User{Name: "harness", Groups: []string{"system:masters"}}, base)
	if err != nil {
		return err
	}
	c.AdminConfig = cfg
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	c.Admin, err = client.New(cfg, client.Options{Scheme: scheme})
	return err
}

// StopFirstAPIServer stops the API server the replicas talk to (the
// outage); StartFirstAPIServer brings it back on the same address.
func (c *Cluster) StopFirstAPIServer() error { return c.env.ControlPlane.APIServer.Stop() }

// StartFirstAPIServer restarts the first API server.
func (c *Cluster) StartFirstAPIServer() error { return c.env.ControlPlane.APIServer.Start() }

// Stop stops everything the cluster started.
func (c *Cluster) Stop() {
	if c.api2 != nil {
		c.api2.Stop()
	}
	if c.env != nil {
		c.env.Stop()
	}
}

// build compiles gjallar, as the image would hold it.
func (c *Cluster) build(ctx context.Context) error {
	c.Bin = filepath.Join(c.Dir, "gjallar")
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", c.Bin, "./cmd/gjallar")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/gjallar: %w\n%s", err, out)
	}
	return nil
}

// CRDDirs are the CRDs the corpus needs: the Gateway API's (from the Go
// module) and kgateway's (testdata/crds).
func CRDDirs() ([]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m sigs.k8s.io/gateway-api: %w", err)
	}
	return []string{filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard"), filepath.Join(root, "testdata", "crds")}, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// install creates gjallar's namespace, its Service (no selector: the
// harness keeps its EndpointSlices) and the chart's webhook configurations,
// unchanged: they call the Service.
func (c *Cluster) install(ctx context.Context) error {
	if err := c.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: Namespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{
			{Name: "https", Port: 443, TargetPort: intstr.FromInt32(9443), Protocol: corev1.ProtocolTCP},
		}},
	}
	if err := c.Admin.Create(ctx, svc); err != nil {
		return fmt.Errorf("creating Service %s: %w", ServiceName, err)
	}
	objs, err := charts.Render(ServiceName, Namespace, nil)
	if err != nil {
		return err
	}
	for _, o := range objs {
		var obj client.Object
		switch o.GetKind() {
		case "ValidatingWebhookConfiguration":
			obj = &admissionregv1.ValidatingWebhookConfiguration{}
		case "MutatingWebhookConfiguration":
			obj = &admissionregv1.MutatingWebhookConfiguration{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, obj); err != nil {
			return err
		}
		if err := c.Admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetKind(), err)
		}
	}
	return nil
}

// seed creates the compliant corpus stacks the direct-review mix expects.
func (c *Cluster) seed(ctx context.Context, stacks int) (int, error) {
	var objs []*unstructured.Unstructured
	namespaces := map[string]bool{}
	docs := corpus.PlatformDocs()
	for i := range stacks {
		docs = append(docs, corpus.StackDocs(i, corpus.DefectNone)...)
	}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			return 0, err
		}
		u := &unstructured.Unstructured{Object: m}
		if ns := u.GetNamespace(); ns != "" {
			namespaces[ns] = true
		}
		objs = append(objs, u)
	}
	n := 0
	for ns := range namespaces {
		err := c.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return n, err
		}
		n++
	}
	// Cluster-scoped classes before the namespaced objects that use them.
	for _, clusterScoped := range []bool{true, false} {
		for _, u := range objs {
			if (u.GetNamespace() == "") != clusterScoped {
				continue
			}
			// No webhook runs yet (no replica): these go straight in.
			if err := c.Admin.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
				return n, fmt.Errorf("seeding %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			n++
		}
	}
	return n, nil
}

// NodeIP is this machine's first non-loopback IPv4 address (what
// `hostname -I` lists first).
func NodeIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address: the API server cannot be pointed at endpoints on loopback")
}

// FreePort returns a TCP port free on ip.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
