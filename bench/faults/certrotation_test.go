package faults

import (
	"context"
	"testing"
	"time"
)

// TestCertRotationUnderLoad: two replicas issue a CA and serving
// certificate valid 45s, renewed 30s before they end (a rotation about
// every 15s), while admission load runs through the API server, which
// calls the replicas at their endpoints with the caBundle gjallar keeps.
// At least two CAs rotate in under load; each is in every webhook's
// caBundle before the serving certificate it replaces expires; no TLS
// handshake fails on the replicas and every request is answered rightly.
func TestCertRotationUnderLoad(t *testing.T) {
	requireCluster(t)
	res, err := CertRotation(context.Background(), cluster, CertRotationOptions{
		Rate: 20, Validity: 45 * time.Second, RenewBefore: 30 * time.Second, CheckInterval: 2 * time.Second,
		Duration: 45 * time.Second,
	}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %d rotations; %v TLS handshake errors; %d certificate switches once trusted, %d on expiry",
		res.Load, len(res.Rotations), res.HandshakeErrors, res.Switched, res.OnExpiry)
	if len(res.Rotations) < 2 {
		t.Errorf("%d CA rotations under load, want at least 2", len(res.Rotations))
	}
	for _, r := range res.Rotations {
		switch {
		case r.InBundles.IsZero():
			t.Errorf("CA %s never in every caBundle", r.CA)
		case r.PreviousExpiry.IsZero():
			t.Errorf("CA %s: no serving certificate seen before it", r.CA)
		case !r.InBundles.Before(r.PreviousExpiry):
			t.Errorf("CA %s trusted at %s, after the previous certificate expired at %s", r.CA,
				r.InBundles.Format(time.RFC3339Nano), r.PreviousExpiry.Format(time.RFC3339Nano))
		default:
			t.Logf("CA %s: in the Secret at %s, in every caBundle %s later, %s before the previous certificate expired",
				r.CA, r.InSecret.Format("15:04:05.000"), r.InBundles.Sub(r.InSecret).Round(time.Millisecond),
				r.PreviousExpiry.Sub(r.InBundles).Round(time.Millisecond))
		}
	}
	if res.Load.Sent < 500 || res.Load.Problems() != 0 {
		t.Errorf("load during the rotations: %s %v", res.Load, res.Load.Samples)
	}
	// Each rotation but the last (which may not have settled when the
	// load stopped) reached both replicas through the trust check; none
	// because the certificate they served had expired.
	if want := 2 * (len(res.Rotations) - 1); res.Switched < want || res.OnExpiry != 0 {
		t.Errorf("replicas switched certificate %d times once trusted (want at least %d), %d times on expiry (want 0)",
			res.Switched, want, res.OnExpiry)
	}
	if res.HandshakeErrors != 0 {
		t.Errorf("%v failed TLS handshakes on the replicas during the rotations", res.HandshakeErrors)
	}
}
