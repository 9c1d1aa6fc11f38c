package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// ServerLimits bound what callers can cost the admission server, so that
// under more load than it can answer it refuses fast instead of answering
// everyone too late.
type ServerLimits struct {
	// MaxInFlight is how many admission requests are evaluated at once
	// (default 4 x GOMAXPROCS, at least 8); more wait for a slot. The work
	// is mostly CPU, so more at once only makes each one slower.
	MaxInFlight int
	// QueueWait is the longest a request waits for a slot before it is
	// refused with 429 and Retry-After (default 1s; never more than half
	// the timeout the API server gives the call).
	QueueWait time.Duration
	// ShutdownTimeout is how long in-flight requests get to finish when
	// the server stops (default 30s, the API server's longest webhook
	// timeout: no answer is useful after that).
	ShutdownTimeout time.Duration
}

func (l *ServerLimits) defaults() {
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if l.QueueWait <= 0 {
		l.QueueWait = time.Second
	}
	if l.ShutdownTimeout <= 0 {
		l.ShutdownTimeout = 30 * time.Second
	}
}

// Connection time limits. The API server sends a whole AdmissionReview at
// once and reads the answer at once, so these only cut off clients that
// trickle bytes (slowloris) or vanish; none of them is near what a real
// call takes.
const (
	headerTimeout  = 10 * time.Second // request line and headers
	readTimeout    = 15 * time.Second // headers and body
	writeTimeout   = 30 * time.Second // from the end of the headers to the end of the answer
	idleTimeout    = 90 * time.Second // the API server's own keep-alive
	maxHeaderBytes = 64 << 10
	// retryAfterSeconds is what a refused caller is told to wait;
	// client-go retries such answers by itself.
	retryAfterSeconds = 1
)

var (
	admissionInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gjallar_admission_in_flight",
		Help: "Admission requests being evaluated now (at most --max-in-flight).",
	})
	admissionRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_admission_refused_total",
		Help: "Admission requests refused with 429 because no evaluation slot freed up in time, by webhook.",
	}, []string{"webhook"})
	tlsHandshakeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gjallar_tls_handshake_errors_total",
		Help: "TLS handshakes on the webhook port that failed (a caller that does not trust the serving certificate shows here).",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(admissionInFlight, admissionRefused, tlsHandshakeErrors)
}

// admissionServer serves the admission webhooks over TLS. It takes the
// place of controller-runtime's webhook server for what that one does not
// let a caller set: connection timeouts, a bound on concurrent work,
// draining before shutdown, and request contexts that outlive the
// manager's, so that stopping lets in-flight requests finish.
type admissionServer struct {
	Host   string
	Port   int
	Certs  *servingCertificate
	Limits ServerLimits
	Logger logr.Logger

	mux      http.ServeMux
	slots    chan struct{}
	started  atomic.Bool
	draining atomic.Bool
}

func newAdmissionServer(host string, port int, certs *servingCertificate, limits ServerLimits, logger logr.Logger) *admissionServer {
	limits.defaults()
	return &admissionServer{Host: host, Port: port, Certs: certs, Limits: limits, Logger: logger,
		slots: make(chan struct{}, limits.MaxInFlight)}
}

// Register serves an admission handler at path, behind the concurrency
// bound; name labels its metrics (validate, mutate).
func (s *admissionServer) Register(path, name string, h http.Handler) {
	s.mux.Handle(path, s.bounded(name, h))
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica serves.
func (s *admissionServer) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable: it serves until ctx ends, then stops
// accepting connections and waits up to ShutdownTimeout for the requests
// in flight.
func (s *admissionServer) Start(ctx context.Context) error {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"}, // no HTTP/2 (rapid-reset class of attacks)
		GetCertificate: s.Certs.GetCertificate,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	if err != nil {
		return fmt.Errorf("listening for admission requests: %w", err)
	}
	srv := &http.Server{
		Handler:           s.draining2close(&s.mux),
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(&serverErrorLog{logger: s.Logger}, "", 0),
		// Not ctx: a request must not be cancelled because the process is
		// stopping; Shutdown waits for it instead.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, cfg)) }()
	s.started.Store(true)
	s.Logger.Info("serving admission requests", "address", ln.Addr().String(), "maxInFlight", s.Limits.MaxInFlight)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.Limits.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		s.Logger.Error(err, "requests still in flight when the shutdown timeout ran out; closing them")
		srv.Close()
	}
	<-done
	return nil
}

// startedCheck is a readiness check: the listener is up.
func (s *admissionServer) startedCheck(*http.Request) error {
	if !s.started.Load() {
		return errors.New("webhook server not started")
	}
	return nil
}

// drain makes every answer from now on close its connection, so that
// callers holding keep-alive connections open new ones, which go to the
// endpoints that are still ready.
func (s *admissionServer) drain() { s.draining.Store(true) }

func (s *admissionServer) draining2close(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// bounded lets at most MaxInFlight requests through at once. A request
// that finds no slot within its wait is answered at once with an
// AdmissionReview refusing it with 429 and Retry-After, which the API
// server passes to its client (client-go retries it by itself), rather
// than queueing until the API server gives up on the call.
func (s *admissionServer) bounded(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read before a slot is taken: a caller that sends it a
		// byte at a time then holds only its connection (closed at
		// readTimeout), not one of the MaxInFlight evaluations. One byte
		// over the limit is kept, so the handler still refuses it as too
		// large.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
		if err != nil {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		wait := s.Limits.QueueWait
		if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 {
			wait = min(wait, t/2)
		}
		select {
		case s.slots <- struct{}{}:
		default:
			timer := time.NewTimer(wait)
			select {
			case s.slots <- struct{}{}:
				timer.Stop()
			case <-timer.C:
				admissionRefused.WithLabelValues(name).Inc()
				refuseOverloaded(w, r)
				return
			case <-r.Context().Done():
				timer.Stop()
				return
			}
		}
		admissionInFlight.Inc()
		defer func() {
			admissionInFlight.Dec()
			<-s.slots
		}()
		h.ServeHTTP(w, r)
	})
}

// refuseOverloaded answers with the request's own UID and API version, so
// the API server takes it as the webhook's answer and hands the 429 to its
// client; a body that is not an AdmissionReview gets a bare 429.
func refuseOverloaded(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes))
	var review struct {
		APIVersion string `json:"apiVersion"`
		Request    struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	if err != nil || json.Unmarshal(body, &review) != nil || review.Request.UID == "" {
		http.Error(w, "gjallar is overloaded; retry", http.StatusTooManyRequests)
		return
	}
	if !strings.HasPrefix(review.APIVersion, "admission.k8s.io/") {
		review.APIVersion = "admission.k8s.io/v1"
	}
	out, _ := json.Marshal(map[string]any{
		"apiVersion": review.APIVersion, "kind": "AdmissionReview",
		"response": map[string]any{
			"uid": review.Request.UID, "allowed": false,
			"status": map[string]any{
				"status": "Failure", "code": http.StatusTooManyRequests, "reason": "TooManyRequests",
				"message": "gjallar is overloaded; retry",
				"details": map[string]any{"retryAfterSeconds": retryAfterSeconds},
			},
		},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// maxReviewBytes is what controller-runtime's admission handler reads at
// most: two objects at the API server's 3 MiB limit and the envelope.
const maxReviewBytes = 7 << 20

// serverErrorLog turns net/http's error log into structured logs, and
// counts failed TLS handshakes.
type serverErrorLog struct{ logger logr.Logger }

func (l *serverErrorLog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if strings.Contains(msg, "TLS handshake error") {
		tlsHandshakeErrors.Inc()
	}
	l.logger.V(1).Info("webhook server", "error", msg)
	return len(p), nil
}
