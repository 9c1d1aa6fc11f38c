// Command cluster is the webhook benchmark's stand-in for a cluster: it
// starts etcd and kube-apiserver from the envtest binaries
// (tools/envtest-bins.sh builds them), installs the Gateway API and
// kgateway CRDs, seeds the compliant version of -stacks bench/corpus
// stacks, writes a kubeconfig and a self-signed serving certificate for
// 127.0.0.1, creates -ready, and runs until interrupted.
//
//	go run ./bench/cmd/cluster -dir /tmp/bench-cluster -stacks 500 -crds DIR,DIR
//
// Objects are created as `kubectl apply` creates them (-kubectl, the
// default): with the last-applied-configuration annotation and the
// managedFields of the kubectl-client-side-apply field manager, which is
// what a real cluster's objects carry and what the webhook's cache must
// cope with. -etcd-dir keeps etcd's data between runs: a cluster seeded
// once (it takes minutes at 100,000 objects on 2 cores) is reused as long
// as it was seeded with the same -stacks and -kubectl.
//
// `gjallar webhook --kubeconfig DIR/kubeconfig --manage-certs=false
// --cert-dir DIR/certs` then serves on loopback, and bench/cmd/loadgen
// talks to it directly, trusting DIR/certs/ca.crt.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/bench/corpus"
	"github.com/gjallar-dev/gjallar/internal/envtestbin"
)

func main() {
	var (
		dir, assets, crds, ready, etcdDir string
		stacks, workers                   int
		asKubectl                         bool
	)
	flag.StringVar(&dir, "dir", "", "directory for the kubeconfig and certs/ (created)")
	flag.StringVar(&assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding kube-apiserver and etcd (default: KUBEBUILDER_ASSETS, else the newest tools/envtest-bins.sh build)")
	flag.StringVar(&crds, "crds", "", "comma-separated CRD directories to install")
	flag.StringVar(&ready, "ready", "", "file to create once everything is up (default DIR/ready)")
	flag.IntVar(&stacks, "stacks", 500, "compliant bench/corpus stacks to seed (7 objects and a namespace each)")
	flag.IntVar(&workers, "workers", 16, "concurrent creates while seeding")
	flag.BoolVar(&asKubectl, "kubectl", true, "create objects as kubectl apply does: last-applied-configuration annotation, kubectl-client-side-apply managedFields")
	flag.StringVar(&etcdDir, "etcd-dir", "", "etcd data directory to keep and reuse (default: a temporary one, removed on exit)")
	flag.Parse()
	if dir == "" {
		fmt.Fprintln(os.Stderr, "usage: cluster -dir DIR [-stacks N] [-crds DIR,...] [-assets DIR]")
		os.Exit(2)
	}
	if ready == "" {
		ready = filepath.Join(dir, "ready")
	}
	if err := run(dir, assets, crds, ready, etcdDir, seeding{stacks: stacks, workers: workers, asKubectl: asKubectl}); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// seeding says what to create in the cluster.
type seeding struct {
	stacks, workers int
	asKubectl       bool
}

// stamp names a seeding in the etcd directory, so a kept directory is only
// reused for the same cluster.
func (s seeding) stamp() string {
	return fmt.Sprintf("stacks=%d kubectl=%t corpus=%d\n", s.stacks, s.asKubectl, corpus.ObjectsPerStack)
}

func run(dir, assets, crds, ready, etcdDir string, s seeding) error {
	if assets == "" {
		assets = envtestbin.Dir()
	}
	if assets == "" {
		return errors.New("no kube-apiserver/etcd: run tools/envtest-bins.sh or set KUBEBUILDER_ASSETS")
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		return err
	}
	// A ready file left by an earlier run must not announce this one.
	if err := os.Remove(ready); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
	for _, d := range strings.Split(crds, ",") {
		if d != "" {
			env.CRDDirectoryPaths = append(env.CRDDirectoryPaths, d)
		}
	}
	// Room for a ClusterIP per stack (the default /24 holds 254). Only
	// allocated in etcd: nothing is ever sent to these addresses.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	seeded := false
	if etcdDir != "" {
		if err := os.MkdirAll(etcdDir, 0o700); err != nil {
			return err
		}
		stamp, err := os.ReadFile(filepath.Join(etcdDir, "gjallar-seeded"))
		switch {
		case err == nil && string(stamp) == s.stamp():
			seeded = true
		case err == nil:
			return fmt.Errorf("%s holds another seeding (%s); remove it or pick another -etcd-dir", etcdDir, strings.TrimSpace(string(stamp)))
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		env.ControlPlane.Etcd = &envtest.Etcd{DataDir: etcdDir}
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer env.Stop()
	fmt.Fprintf(os.Stderr, "cluster: control plane up in %s\n", time.Since(start).Round(time.Millisecond))

	user, err := env.AddUser(envtest.User{Name: "gjallar-bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		return err
	}
	if err := writeCerts(filepath.Join(dir, "certs")); err != nil {
		return err
	}

	cfg.QPS, cfg.Burst = 1000, 2000 // seeding, not a controller
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if seeded {
		fmt.Fprintf(os.Stderr, "cluster: reusing the objects seeded in %s (%s)\n", etcdDir, strings.TrimSpace(s.stamp()))
	} else {
		start = time.Now()
		n, err := seed(ctx, c, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "cluster: seeded %d objects in %s\n", n, time.Since(start).Round(time.Millisecond))
		if etcdDir != "" {
			if err := os.WriteFile(filepath.Join(etcdDir, "gjallar-seeded"), []byte(s.stamp()), 0o600); err != nil {
				return err
			}
		}
	}

	if err := os.WriteFile(ready, []byte("ok\n"), 0o644); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// seed creates the platform objects and the compliant version of each
// stack, namespaces first.
func seed(ctx context.Context, c client.Client, s seeding) (int, error) {
	namespaces := []string{"kgateway-system"}
	var objs []*unstructured.Unstructured
	add := func(docs []string) error {
		for _, d := range docs {
			u, err := decode(d)
			if err != nil {
				return err
			}
			objs = append(objs, u)
		}
		return nil
	}
	if err := add(corpus.PlatformDocs()); err != nil {
		return 0, err
	}
	for i := range s.stacks {
		if err := add(corpus.StackDocs(i, corpus.DefectNone)); err != nil {
			return 0, err
		}
		namespaces = append(namespaces, corpus.StackNamespace(i))
	}
	var nsObjs []*unstructured.Unstructured
	for _, ns := range namespaces {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(ns)
		nsObjs = append(nsObjs, u)
	}
	var opts []client.CreateOption
	if s.asKubectl {
		for _, u := range append(nsObjs, objs...) {
			if err := markLastApplied(u); err != nil {
				return 0, err
			}
		}
		opts = append(opts, client.FieldOwner("kubectl-client-side-apply"))
	}
	if err := createAll(ctx, c, nsObjs, s.workers, opts...); err != nil {
		return 0, err
	}
	// Cluster-scoped classes before the namespaced objects that use them.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetNamespace() == "" && objs[j].GetNamespace() != "" })
	return len(nsObjs) + len(objs), createAll(ctx, c, objs, s.workers, opts...)
}

// lastAppliedAnnotation is where `kubectl apply` keeps the object as last
// applied, for its three-way merge.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// markLastApplied sets the annotation `kubectl apply` writes: the object as
// applied, in JSON, itself without the annotation.
func markLastApplied(u *unstructured.Unstructured) error {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastAppliedAnnotation] = string(raw) + "\n"
	u.SetAnnotations(ann)
	return nil
}

func decode(doc string) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func createAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, workers int, opts ...client.CreateOption) error {
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for u := range work {
				if err := c.Create(ctx, u, opts...); err != nil && !apierrors.IsAlreadyExists(err) {
					select {
					case errs <- fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err):
					default:
					}
				}
			}
		})
	}
	for _, u := range objs {
		work <- u
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// writeCerts issues a CA and a serving certificate for 127.0.0.1 and
// localhost: what gjallar's own rotation issues in a cluster, without it.
func writeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gjallar-bench-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gjallar-bench"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
