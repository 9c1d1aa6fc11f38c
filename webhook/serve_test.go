package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestOverloadIsRefusedInBand: with every evaluation slot taken, a review
// waits at most QueueWait (or half the API server's timeout for the call),
// then is answered at once with the API server's own form of a refusal (its
// UID, allowed false, code 429, Retry-After), which client-go retries; once
// the slot is free the next review is evaluated again.
func TestOverloadIsRefusedInBand(t *testing.T) {
	s := newAdmissionServer("127.0.0.1", 0, nil, ServerLimits{MaxInFlight: 1, QueueWait: 2 * time.Second}, logr.Discard())
	entered, release := make(chan struct{}), make(chan struct{})
	s.Register("/validate", "validate", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte(`{"held":true}`))
	}))
	srv := httptest.NewServer(&s.mux)
	defer srv.Close()

	post := func(query, uid string) (*http.Response, []byte) {
		body := `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"` + uid + `"}}`
		resp, err := http.Post(srv.URL+"/validate"+query, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, out
	}

	held := make(chan []byte, 1)
	go func() {
		_, out := post("", "held")
		held <- out
	}()
	<-entered

	// The API server's timeout for the call (here 200ms) caps the wait
	// below QueueWait: the refusal must come before the call would fail.
	start := time.Now()
	resp, out := post("?timeout=200ms", "refused")
	waited := time.Since(start)
	if waited >= 2*time.Second {
		t.Errorf("refused after %v: the wait ignored the call's timeout", waited)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Retry-After") == "" {
		t.Errorf("refusal: HTTP %d, Retry-After %q; want 200 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var review struct {
		APIVersion string `json:"apiVersion"`
		Response   struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Status  struct {
				Code int `json:"code"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(out, &review); err != nil {
		t.Fatalf("refusal is not an AdmissionReview: %v: %s", err, out)
	}
	if review.APIVersion != "admission.k8s.io/v1beta1" || review.Response.UID != "refused" || review.Response.Allowed || review.Response.Status.Code != http.StatusTooManyRequests {
		t.Errorf("refusal: %s", out)
	}

	// Not an AdmissionReview: a bare 429.
	resp, _ = post("?timeout=100ms", "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("refusal of a review without a UID: HTTP %d, want 429", resp.StatusCode)
	}

	close(release)
	if got := <-held; string(got) != `{"held":true}` {
		t.Errorf("the request holding the slot got %s", got)
	}
	go func() { <-entered }()
	if _, out := post("", "after"); string(out) != `{"held":true}` {
		t.Errorf("after the slot was freed: %s", out)
	}
}
