package faults

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// Direct sends AdmissionReviews straight to one replica, as an API server
// does (HTTPS/1.1 keep-alive, the Service's DNS name as server name, a
// time-out per call), to load it harder than an API server in front of it
// could.
type Direct struct {
	URL     string
	Timeout time.Duration // the webhook's timeoutSeconds
	mix     []corpus.Review
	client  *http.Client
	seq     atomic.Uint64
	// calls bounds the calls in flight, as an API server bounds its own
	// requests in flight (--max-requests-inflight and APF): a call due
	// while all are taken is shed by the caller, not sent.
	calls chan struct{}
}

// NewDirect makes a client of r trusting the CA in gjallar's certificate
// Secret; conns bounds its keep-alive connections (the API server opens
// as many as it has calls in flight).
func NewDirect(ctx context.Context, c *Cluster, r *Replica, stacks, conns int, timeout time.Duration) (*Direct, error) {
	var s corev1.Secret
	if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: "gjallar-webhook-cert"}, &s); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data["ca.crt"]) {
		return nil, errors.New("certificate Secret holds no CA")
	}
	mix, err := corpus.Reviews(stacks, 4)
	if err != nil {
		return nil, err
	}
	return &Direct{
		URL: "https://" + net.JoinHostPort(c.NodeIP, strconv.Itoa(r.Port)), Timeout: timeout, mix: mix,
		calls: make(chan struct{}, conns),
		client: &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: ServiceName + "." + Namespace + ".svc", MinVersion: tls.VersionTLS12},
			MaxConnsPerHost:     conns,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
		}},
	}, nil
}

// DirectOutcome is what one review came to.
type DirectOutcome int

const (
	Answered DirectOutcome = iota // the review's answer, in time
	Refused                       // 429: overloaded, retry
	Late                          // no answer within the time-out
	Broken                        // a transport error, a 5xx, an answer that does not decode
	Shed                          // not sent: the caller had every call in flight already
)

type directSample struct {
	outcome DirectOutcome
	wrong   bool
	latency time.Duration
}

// DirectStats summarises a phase of direct load.
type DirectStats struct {
	Offered  float64 // requests per second asked for (0: closed loop)
	Sent     int
	Answered int
	Refused  int
	Late     int
	Broken   int
	Shed     int
	Wrong    int // answered with the wrong verdict
	Duration time.Duration
	// Throughput is answered requests per second.
	Throughput float64
	// AnsweredP99 and RefusedP99 are latency percentiles, milliseconds.
	AnsweredP50, AnsweredP99, RefusedP99, Max float64
}

func (s DirectStats) String() string {
	load := fmt.Sprintf("%.0f/s offered", s.Offered)
	if s.Offered == 0 {
		load = "closed loop"
	}
	return fmt.Sprintf("%s: sent %d in %s, answered %d (%.0f/s, p50 %.1f ms, p99 %.1f ms), refused %d (p99 %.1f ms), late %d, broken %d, wrong %d, max %.0f ms; shed by the caller %d",
		load, s.Sent, s.Duration.Round(time.Millisecond), s.Answered, s.Throughput, s.AnsweredP50, s.AnsweredP99, s.Refused, s.RefusedP99, s.Late, s.Broken, s.Wrong, s.Max, s.Shed)
}

// send posts the next review of the mix and classifies the answer.
func (d *Direct) send() directSample {
	n := d.seq.Add(1)
	rv := d.mix[int(n)%len(d.mix)]
	uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", n>>48, n&(1<<48-1))
	ctx, cancel := context.WithTimeout(context.Background(), d.Timeout)
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("%s%s?timeout=%s", d.URL, rv.Path, d.Timeout), bytes.NewReader(rv.Body(uid)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return directSample{outcome: Late, latency: time.Since(start)}
		}
		return directSample{outcome: Broken, latency: time.Since(start)}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return directSample{outcome: Late, latency: lat}
	case err != nil:
		return directSample{outcome: Broken, latency: lat}
	case resp.StatusCode == http.StatusTooManyRequests:
		return directSample{outcome: Refused, latency: lat}
	case resp.StatusCode != http.StatusOK:
		return directSample{outcome: Broken, latency: lat}
	}
	answer, err := corpus.ReadAnswer(body, uid)
	switch {
	case err != nil:
		return directSample{outcome: Broken, latency: lat}
	case answer.Refused:
		return directSample{outcome: Refused, latency: lat}
	}
	return directSample{outcome: Answered, latency: lat, wrong: answer.Verdict != rv.Want}
}

// OpenLoop sends rate reviews per second for d, each on schedule whatever
// the answers.
func (d *Direct) OpenLoop(rate float64, dur time.Duration) DirectStats {
	n := int(rate * dur.Seconds())
	samples := make([]directSample, n)
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case d.calls <- struct{}{}:
			wg.Go(func() {
				samples[i] = d.send()
				<-d.calls
			})
		default:
			samples[i] = directSample{outcome: Shed}
		}
	}
	wg.Wait()
	s := summarizeDirect(samples, time.Since(start))
	s.Offered = rate
	return s
}

// ClosedLoop runs clients that each send the next review once the last is
// answered, for dur: the replica's maximum throughput.
func (d *Direct) ClosedLoop(clients int, dur time.Duration) DirectStats {
	var mu sync.Mutex
	var samples []directSample
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var mine []directSample
			for time.Since(start) < dur {
				mine = append(mine, d.send())
			}
			mu.Lock()
			samples = append(samples, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarizeDirect(samples, time.Since(start))
}

// CloseIdle closes the client's keep-alive connections.
func (d *Direct) CloseIdle() { d.client.CloseIdleConnections() }

func summarizeDirect(samples []directSample, elapsed time.Duration) DirectStats {
	s := DirectStats{Sent: len(samples), Duration: elapsed}
	var answered, refused []time.Duration
	for _, x := range samples {
		if x.outcome == Shed {
			s.Shed++
			s.Sent--
			continue
		}
		s.Max = max(s.Max, float64(x.latency.Microseconds())/1000)
		switch x.outcome {
		case Answered:
			s.Answered++
			answered = append(answered, x.latency)
			if x.wrong {
				s.Wrong++
			}
		case Refused:
			s.Refused++
			refused = append(refused, x.latency)
		case Late:
			s.Late++
		case Broken:
			s.Broken++
		}
	}
	pct := func(l []time.Duration, q float64) float64 {
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return float64(l[min(len(l)-1, int(q*float64(len(l))))].Microseconds()) / 1000
	}
	s.AnsweredP50, s.AnsweredP99, s.RefusedP99 = pct(answered, 0.5), pct(answered, 0.99), pct(refused, 0.99)
	s.Throughput = float64(s.Answered) / elapsed.Seconds()
	return s
}
