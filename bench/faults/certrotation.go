package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CertRotationOptions sizes the certificate-rotation scenario.
type CertRotationOptions struct {
	Rate float64 // API requests per second
	// Validity is the lifetime of the CA and of the serving certificate
	// gjallar issues; both are renewed RenewBefore they end, checked every
	// CheckInterval, so a rotation comes every Validity-RenewBefore.
	Validity, RenewBefore, CheckInterval time.Duration
	// Duration is how long the load runs while certificates rotate.
	Duration time.Duration
}

// Rotation is one new CA the certificate Secret came to hold.
type Rotation struct {
	CA string // the start of the CA's SHA-256 fingerprint
	// InSecret is when the Secret was first seen holding it.
	InSecret time.Time
	// InBundles is when every webhook's caBundle was first seen trusting
	// it (zero: never).
	InBundles time.Time
	// PreviousExpiry is when the serving certificate the Secret held
	// before it expires: the CA must be trusted by then.
	PreviousExpiry time.Time
}

// CertRotationResult is what the scenario measured.
type CertRotationResult struct {
	Load      Stats
	Rotations []Rotation
	// HandshakeErrors is the growth of gjallar_tls_handshake_errors_total
	// over the replicas during the run: the API server refusing a
	// certificate it does not trust shows there.
	HandshakeErrors float64
	// Switched counts the replicas' switches to a new certificate once the
	// caBundles trusted it; OnExpiry those forced by the served one
	// expiring first (the trust came too late).
	Switched, OnExpiry int
}

// certSecret is the Secret gjallar keeps its CA and serving certificate in.
const certSecret = "gjallar-webhook-cert"

// CertRotation runs two replicas that issue certificates with a short
// validity, under steady admission load, and watches the certificate
// Secret and the webhook configurations' caBundles while the certificates
// rotate.
func CertRotation(ctx context.Context, c *Cluster, o CertRotationOptions, logf func(string, ...any)) (*CertRotationResult, error) {
	// Start from no certificate, so the first one is short-lived too
	// (an earlier scenario's long-lived one would not rotate).
	var s corev1.Secret
	err := c.Admin.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: certSecret}, &s)
	switch {
	case err == nil:
		s.Data = nil
		if err := c.Admin.Update(ctx, &s); err != nil {
			return nil, fmt.Errorf("emptying the certificate Secret: %w", err)
		}
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	args := []string{"--ca-validity", o.Validity.String(), "--cert-validity", o.Validity.String(),
		"--cert-renew-before", o.RenewBefore.String(), "--cert-check-interval", o.CheckInterval.String()}
	set := &replicaSet{c: c, prefix: "rotation", args: args}
	defer set.killRunning()
	for range 2 {
		if _, err := set.start(ctx); err != nil {
			return nil, err
		}
	}
	replicas := set.all
	for _, r := range replicas {
		if err := r.WaitReady(60 * time.Second); err != nil {
			return nil, err
		}
	}
	handshakeErrors := func() float64 {
		sum := 0.0
		for _, r := range replicas {
			sum += r.Metric("gjallar_tls_handshake_errors_total")
		}
		return sum
	}
	before := handshakeErrors()

	load, err := NewLoad(ctx, c, o.Rate)
	if err != nil {
		return nil, err
	}
	w := &rotationWatch{c: c}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { w.run(watchCtx); close(watchDone) }()
	loadCtx, stopLoad := context.WithTimeout(ctx, o.Duration)
	go func() {
		for loadCtx.Err() == nil {
			sleep(loadCtx, 10*time.Second)
			logf("%d CAs seen; %s", w.count(), load.Stats())
		}
	}()
	load.Run(loadCtx)
	stopLoad()
	// A rotation that came at the end is watched until it is trusted or
	// the certificate it replaces has expired.
	for !w.settled(time.Now()) {
		sleep(ctx, 200*time.Millisecond)
	}
	stopWatch()
	<-watchDone
	res := &CertRotationResult{Load: load.Stats(), HandshakeErrors: handshakeErrors() - before}
	for _, r := range replicas {
		logs := r.Logs.String()
		res.OnExpiry += strings.Count(logs, "serving the new certificate: the previous one expired")
		res.Switched += strings.Count(logs, `serving the new certificate"`)
	}
	// The first CA is the one issued at start, before the load: not a
	// rotation under load.
	if all := w.rotations(); len(all) > 1 {
		res.Rotations = all[1:]
	}
	return res, nil
}

// rotationWatch polls the certificate Secret and the caBundles.
type rotationWatch struct {
	c *Cluster

	mu       sync.Mutex
	seen     []Rotation
	cas      [][]byte // raw CA certificates, as seen
	lastCert *x509.Certificate
}

func (w *rotationWatch) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.poll(ctx)
		sleep(ctx, 200*time.Millisecond)
	}
}

func (w *rotationWatch) poll(ctx context.Context) {
	var s corev1.Secret
	if err := w.c.Admin.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: certSecret}, &s); err != nil {
		return
	}
	ca, cert := firstCert(s.Data["ca.crt"]), firstCert(s.Data["tls.crt"])
	now := time.Now()
	w.mu.Lock()
	if ca != nil && (len(w.cas) == 0 || !bytes.Equal(w.cas[len(w.cas)-1], ca.Raw)) {
		sum := sha256.Sum256(ca.Raw)
		r := Rotation{CA: hex.EncodeToString(sum[:6]), InSecret: now}
		if w.lastCert != nil {
			r.PreviousExpiry = w.lastCert.NotAfter
		}
		w.seen = append(w.seen, r)
		w.cas = append(w.cas, ca.Raw)
	}
	if cert != nil {
		w.lastCert = cert
	}
	var pending []int
	for i := range w.seen {
		if w.seen[i].InBundles.IsZero() {
			pending = append(pending, i)
		}
	}
	w.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	bundles, err := w.bundles(ctx)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, i := range pending {
		trusted := true
		for _, b := range bundles {
			if !bytes.Contains(b, w.cas[i]) {
				trusted = false
			}
		}
		if trusted {
			w.seen[i].InBundles = now
		}
	}
}

// bundles are every gjallar webhook's caBundle, as DER bytes concatenated.
func (w *rotationWatch) bundles(ctx context.Context) ([][]byte, error) {
	var v admissionregv1.ValidatingWebhookConfiguration
	var m admissionregv1.MutatingWebhookConfiguration
	if err := w.c.Admin.Get(ctx, client.ObjectKey{Name: ServiceName}, &v); err != nil {
		return nil, err
	}
	if err := w.c.Admin.Get(ctx, client.ObjectKey{Name: ServiceName}, &m); err != nil {
		return nil, err
	}
	var out [][]byte
	for _, h := range v.Webhooks {
		out = append(out, derOf(h.ClientConfig.CABundle))
	}
	for _, h := range m.Webhooks {
		out = append(out, derOf(h.ClientConfig.CABundle))
	}
	return out, nil
}

// settled: every CA seen is in the caBundles, or the certificate it
// replaces expired before now.
func (w *rotationWatch) settled(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.seen {
		if r.InBundles.IsZero() && now.Before(r.PreviousExpiry) {
			return false
		}
	}
	return true
}

func (w *rotationWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func (w *rotationWatch) rotations() []Rotation {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Rotation(nil), w.seen...)
}

func firstCert(pemBytes []byte) *x509.Certificate {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return c
}

// derOf concatenates the DER of every certificate in a PEM bundle.
func derOf(pemBytes []byte) []byte {
	var out []byte
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			return out
		}
		out = append(out, b.Bytes...)
	}
}
