package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Rotating the CA safely. gjallar's certificate rotation (cert-controller)
// replaces the CA and the serving certificate together in one Secret, which
// the kubelet then projects into every pod, at its own pace. If the
// webhook configurations' caBundle held only the newest CA, a pod serving
// the previous certificate (not projected yet), or one serving the new
// certificate before the API server read the new caBundle, would fail the
// API server's handshake. So:
//   - the caBundle keeps every gjallar CA that has not expired, newest
//     first (caBundleInjector), and
//   - a pod serves a newly mounted certificate only once every webhook's
//     caBundle trusts it (servingCertificate), and keeps serving the
//     previous one until then.
// The API server therefore trusts whatever any pod serves, at every moment.

// servingCertificate is the TLS certificate the admission server presents:
// the pair in CertDir, reloaded when the kubelet replaces the files.
type servingCertificate struct {
	CertFile, KeyFile string
	// Trusted, when set, tells whether the API server trusts a
	// certificate; a new one is held back until it does. Nil trusts all
	// (cert-manager injects its CA on its own schedule).
	Trusted func(ctx context.Context, leaf *x509.Certificate) bool
	// Settle is how long a certificate must have been trusted before it
	// is served, so that every API server has read the caBundle.
	Settle time.Duration
	Logger logr.Logger

	current atomic.Pointer[servedCert]
	ready   chan struct{}
	once    sync.Once
}

func (s *servingCertificate) init() { s.once.Do(func() { s.ready = make(chan struct{}) }) }

// Ready is closed once a certificate is being served.
func (s *servingCertificate) Ready() <-chan struct{} {
	s.init()
	return s.ready
}

// servedCert is a certificate being served and the PEM it was read from,
// to tell a changed file from the same one.
type servedCert struct {
	cert *tls.Certificate
	pem  []byte
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *servingCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.current.Load(); c != nil {
		return c.cert, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// certPollInterval is how often the mounted files are read: the kubelet
// swaps them atomically (a symlinked directory), so polling is safe where
// file notifications are not.
const certPollInterval = time.Second

// Run loads the pair until ctx ends. A first certificate is served at
// once (nothing is served before it); a later one once it is trusted and
// has settled, or once the one being served expires.
func (s *servingCertificate) Run(ctx context.Context) {
	s.init()
	var pendingPEM []byte
	var trustedSince time.Time
	t := time.NewTicker(certPollInterval)
	defer t.Stop()
	for {
		certPEM, keyPEM, err := readPair(s.CertFile, s.KeyFile)
		cur := s.current.Load()
		if err == nil && (cur == nil || !bytes.Equal(certPEM, cur.pem)) {
			next, err := tls.X509KeyPair(certPEM, keyPEM)
			switch {
			case err != nil:
				// Mid-update (certificate and key from two versions): the
				// next read sees them settled.
			case cur == nil:
				s.serve(&next, certPEM, "serving the mounted certificate")
				close(s.ready)
			case expired(cur.cert):
				s.serve(&next, certPEM, "serving the new certificate: the previous one expired")
			default:
				if !bytes.Equal(pendingPEM, certPEM) {
					pendingPEM, trustedSince = certPEM, time.Time{}
					s.Logger.Info("new certificate mounted; serving it once the webhook configurations trust it")
				}
				if trustedSince.IsZero() && (s.Trusted == nil || s.Trusted(ctx, next.Leaf)) {
					trustedSince = time.Now()
				}
				if !trustedSince.IsZero() && time.Since(trustedSince) >= s.Settle {
					s.serve(&next, certPEM, "serving the new certificate")
					pendingPEM = nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *servingCertificate) serve(c *tls.Certificate, certPEM []byte, msg string) {
	s.current.Store(&servedCert{cert: c, pem: certPEM})
	s.Logger.Info(msg, "notAfter", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "issuer", c.Leaf.Issuer.CommonName)
}

func expired(c *tls.Certificate) bool {
	return c.Leaf != nil && !time.Now().Before(c.Leaf.NotAfter)
}

func readPair(certFile, keyFile string) ([]byte, []byte, error) {
	c, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	k, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	return c, k, nil
}

var (
	validatingConfigGVK = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"}
	mutatingConfigGVK   = schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"}
)

// webhookConfig names one of gjallar's webhook configurations.
type webhookConfig struct {
	GVK  schema.GroupVersionKind
	Name string
}

// caBundleInjector keeps each webhook's caBundle at the CAs in the
// certificate Secret plus the earlier gjallar CAs that have not expired,
// so that certificates signed by either are trusted while pods move from
// one to the other. It runs on every replica (as the rotation does); the
// writes are conditional on the resourceVersion read, so replicas agree.
type caBundleInjector struct {
	Client   client.Client // reads live: the bundle must not be judged from a stale copy
	Secret   types.NamespacedName
	CAName   string // the CommonName gjallar's CAs carry; other CAs are left out
	Webhooks []webhookConfig
	Interval time.Duration
	Logger   logr.Logger

	injected chan struct{} // closed after the first successful pass
	once     sync.Once
}

func (c *caBundleInjector) init() {
	c.once.Do(func() { c.injected = make(chan struct{}) })
}

// Injected is closed once every webhook trusts the Secret's CA.
func (c *caBundleInjector) Injected() <-chan struct{} {
	c.init()
	return c.injected
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (c *caBundleInjector) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable.
func (c *caBundleInjector) Start(ctx context.Context) error {
	c.init()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	done := false
	for {
		if err := c.pass(ctx); err != nil {
			c.Logger.Error(err, "updating the webhook configurations' caBundle")
		} else if !done {
			done = true
			close(c.injected)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *caBundleInjector) pass(ctx context.Context) error {
	var secret corev1.Secret
	if err := c.Client.Get(ctx, c.Secret, &secret); err != nil {
		return fmt.Errorf("reading the certificate Secret %s: %w", c.Secret, err)
	}
	current := parseCerts(secret.Data["ca.crt"])
	if len(current) == 0 {
		return fmt.Errorf("certificate Secret %s holds no CA yet", c.Secret)
	}
	var errs []error
	for _, wc := range c.Webhooks {
		if err := c.inject(ctx, wc, current); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *caBundleInjector) inject(ctx context.Context, wc webhookConfig, current []*x509.Certificate) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(wc.GVK)
	if err := c.Client.Get(ctx, client.ObjectKey{Name: wc.Name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // not installed (a local run): nothing to trust us
		}
		return fmt.Errorf("reading %s %s: %w", wc.GVK.Kind, wc.Name, err)
	}
	hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
	changed := false
	for i, h := range hooks {
		hook, ok := h.(map[string]any)
		if !ok {
			continue
		}
		old, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle")
		oldPEM, _ := decodeBase64(old)
		want := encodeCerts(bundle(current, parseCerts(oldPEM), c.CAName, time.Now()))
		if !bytes.Equal(oldPEM, want) {
			unstructured.SetNestedField(hook, encodeBase64(want), "clientConfig", "caBundle")
			hooks[i] = hook
			changed = true
		}
	}
	if !changed {
		return nil
	}
	unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
	// Update carries the resourceVersion read: a concurrent writer makes
	// this fail, and the next pass starts from what it wrote.
	if err := c.Client.Update(ctx, u, client.FieldOwner("gjallar")); err != nil {
		return fmt.Errorf("updating the caBundle of %s %s: %w", wc.GVK.Kind, wc.Name, err)
	}
	c.Logger.Info("updated the caBundle", "kind", wc.GVK.Kind, "name", wc.Name)
	return nil
}

// maxBundledCAs bounds the bundle: rotations are far apart, so more than a
// few unexpired CAs means something else is going on.
const maxBundledCAs = 4

// bundle is the CAs to trust: the current ones first, then earlier gjallar
// CAs from the old bundle that are still valid, newest first.
func bundle(current, old []*x509.Certificate, caName string, now time.Time) []*x509.Certificate {
	out := append([]*x509.Certificate(nil), current...)
	var earlier []*x509.Certificate
	for _, c := range old {
		if !c.IsCA || c.Subject.CommonName != caName || !now.Before(c.NotAfter) {
			continue
		}
		if slices.ContainsFunc(out, c.Equal) || slices.ContainsFunc(earlier, c.Equal) {
			continue
		}
		earlier = append(earlier, c)
	}
	slices.SortStableFunc(earlier, func(a, b *x509.Certificate) int { return b.NotAfter.Compare(a.NotAfter) })
	out = append(out, earlier...)
	return out[:min(len(out), maxBundledCAs)]
}

// trustedByWebhooks tells whether every webhook of the configurations has
// a caBundle that verifies leaf, read live from the API server.
func trustedByWebhooks(reader client.Reader, webhooks []webhookConfig) func(context.Context, *x509.Certificate) bool {
	return func(ctx context.Context, leaf *x509.Certificate) bool {
		if leaf == nil {
			return false
		}
		for _, wc := range webhooks {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(wc.GVK)
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := reader.Get(rctx, client.ObjectKey{Name: wc.Name}, u)
			cancel()
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return false
			}
			hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			for _, h := range hooks {
				hook, _ := h.(map[string]any)
				b64, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle")
				pemBytes, _ := decodeBase64(b64)
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pemBytes) {
					return false
				}
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					return false
				}
			}
		}
		return true
	}
}

func parseCerts(pemBytes []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

func encodeCerts(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

func certFiles(dir string) (string, string) {
	return filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
func encodeBase64(b []byte) string          { return base64.StdEncoding.EncodeToString(b) }

// CertTiming sets the lifetimes of the certificates gjallar issues itself.
// The CA and the serving certificate are renewed RenewBefore their expiry,
// checked every CheckInterval.
type CertTiming struct {
	CAValidity, CertValidity, RenewBefore, CheckInterval time.Duration
	// Settle is how long a new certificate must have been trusted by the
	// webhook configurations before a pod serves it (API servers read
	// the caBundle through an informer).
	Settle time.Duration
}

func (t *CertTiming) defaults() {
	if t.CAValidity <= 0 {
		t.CAValidity = 10 * 365 * 24 * time.Hour // cert-controller's defaults
	}
	if t.CertValidity <= 0 {
		t.CertValidity = 365 * 24 * time.Hour
	}
	if t.RenewBefore <= 0 {
		t.RenewBefore = 90 * 24 * time.Hour
	}
	if t.CheckInterval <= 0 {
		t.CheckInterval = time.Hour
	}
	if t.Settle <= 0 {
		t.Settle = 5 * time.Second
	}
}

func (t CertTiming) validate() error {
	if t.RenewBefore >= min(t.CAValidity, t.CertValidity) {
		return fmt.Errorf("certificates renewed %s before expiry must be valid for longer than that (CA %s, serving %s)", t.RenewBefore, t.CAValidity, t.CertValidity)
	}
	return nil
}

// setupCertificates arranges the serving certificate: issued and rotated by
// gjallar (cert-controller, with the caBundle kept by caBundleInjector), or
// mounted from cert-manager's Secret. It returns what the server presents
// and the channels that close once the certificate is ready.
func setupCertificates(ctx context.Context, mgr manager.Manager, cfg *rest.Config, scheme *runtime.Scheme, o Options, logger logr.Logger) (*servingCertificate, []<-chan struct{}, error) {
	certFile, keyFile := certFiles(o.CertDir)
	certs := &servingCertificate{CertFile: certFile, KeyFile: keyFile, Settle: o.CertTiming.Settle, Logger: logger.WithName("certificate")}
	ready := []<-chan struct{}{certs.Ready()}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { certs.Run(ctx); return nil })); err != nil {
		return nil, nil, err
	}
	if !o.ManageCerts {
		return certs, ready, nil
	}
	if err := o.CertTiming.validate(); err != nil {
		return nil, nil, err
	}
	if err := ensureCertSecret(ctx, cfg, scheme, o); err != nil {
		return nil, nil, err
	}
	live, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	webhooks := []webhookConfig{{GVK: validatingConfigGVK, Name: o.ValidatingName}, {GVK: mutatingConfigGVK, Name: o.MutatingName}}
	secret := types.NamespacedName{Namespace: o.Namespace, Name: o.CertSecret}
	rotated := make(chan struct{})
	err = rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      secret,
		CertDir:        o.CertDir,
		CAName:         caName,
		CAOrganization: "gjallar",
		DNSName:        fmt.Sprintf("%s.%s.svc", o.ServiceName, o.Namespace),
		ExtraDNSNames:  o.ExtraDNSNames,
		IsReady:        rotated,
		// No webhooks: caBundleInjector keeps the caBundle, with the
		// earlier CAs that cert-controller would drop.
		Webhooks:               nil,
		CaCertDuration:         o.CertTiming.CAValidity,
		ServerCertDuration:     o.CertTiming.CertValidity,
		LookaheadInterval:      o.CertTiming.RenewBefore,
		RotationCheckFrequency: o.CertTiming.CheckInterval,
		// Every replica serves, so every replica needs the certificate.
		RequireLeaderElection: false,
	})
	if err != nil {
		return nil, nil, err
	}
	injector := &caBundleInjector{Client: live, Secret: secret, CAName: caName, Webhooks: webhooks,
		Interval: min(o.CertTiming.CheckInterval, 10*time.Second), Logger: logger.WithName("ca-bundle")}
	if err := mgr.Add(injector); err != nil {
		return nil, nil, err
	}
	certs.Trusted = trustedByWebhooks(live, webhooks)
	return certs, append(ready, rotated, injector.Injected()), nil
}

// caName is the CommonName of the CAs gjallar issues.
const caName = "gjallar-ca"
