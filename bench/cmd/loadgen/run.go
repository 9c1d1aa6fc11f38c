package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// Phase is one measured stretch of load.
type Phase struct {
	Label string `json:"label"`
	// Rate is the open-loop target in requests per second; 0 for the
	// closed-loop maximum-rate phase.
	Rate     float64 `json:"rate"`
	Clients  int     `json:"clients,omitempty"`
	Duration float64 `json:"durationSeconds"`
	Sent     int     `json:"sent"`
	OK       int     `json:"ok"`
	// Errors: non-200 answers, transport failures and time-outs, answers
	// that do not decode or carry another request's UID.
	Errors map[string]int `json:"errors"`
	// WrongVerdicts counts answers that decode but allow what should be
	// denied, or the reverse (not checked against the floor).
	WrongVerdicts int     `json:"wrongVerdicts"`
	Throughput    float64 `json:"throughput"`
	P50           float64 `json:"p50ms"`
	P90           float64 `json:"p90ms"`
	P99           float64 `json:"p99ms"`
	Max           float64 `json:"maxms"`
}

func runMain(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	target := fs.String("url", "", "the webhook's base URL, https://127.0.0.1:PORT")
	caFile := fs.String("ca", "", "CA certificate the webhook's serving certificate is signed by")
	label := fs.String("label", "webhook", "name of the server in the report")
	ratesFlag := fs.String("rates", "250,500,1000,2000", "open-loop rates, requests per second")
	duration := fs.Duration("duration", 10*time.Second, "length of each phase")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load at 200 requests/s before the phases")
	clients := fs.Int("max-clients", 32, "concurrent clients of the maximum-rate phase (0 skips it)")
	conns := fs.Int("conns", 64, "keep-alive connections at most; requests beyond wait for one, and the wait counts")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request time-out (the API server's default for webhooks)")
	stacks := fs.Int("stacks", 500, "stacks in the mix; the cluster should hold their compliant versions")
	wrongEvery := fs.Int("wrong-every", 4, "one stack in this many re-applies a mistake")
	checkVerdicts := fs.Bool("check-verdicts", true, "count answers that allow what should be denied or the reverse (off for the floor)")
	jsonOut := fs.String("json", "", "append the phases as JSON lines to this file")
	fs.Parse(args)

	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "https" {
		return fmt.Errorf("-url must be https://127.0.0.1:PORT")
	}
	if err := requireLoopback(u.Host); err != nil {
		return err
	}
	var rates []float64
	for _, s := range strings.Split(*ratesFlag, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("bad rate %q", s)
		}
		rates = append(rates, r)
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no certificate", *caFile)
	}
	mix, err := corpus.Reviews(*stacks, *wrongEvery)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loadgen: %s: mix of %d requests (%s)\n", *label, len(mix), corpus.Summarize(mix))

	g := &generator{
		base: strings.TrimSuffix(*target, "/"), mix: mix, checkVerdicts: *checkVerdicts, timeout: *timeout,
		client: &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: false,
			// A bounded pool, as the API server keeps to each webhook: an
			// overloaded server makes requests queue (measured from their
			// scheduled time) instead of opening ever more connections.
			MaxConnsPerHost:     *conns,
			MaxIdleConns:        *conns,
			MaxIdleConnsPerHost: *conns,
			DisableCompression:  true,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	if *warmup > 0 {
		g.openLoop("warmup", 200, *warmup)
	}
	var phases []Phase
	for _, r := range rates {
		p := g.openLoop(*label, r, *duration)
		phases = append(phases, p)
		printPhase(p)
	}
	if *clients > 0 {
		p := g.closedLoop(*label, *clients, *duration)
		phases = append(phases, p)
		printPhase(p)
	}
	if *jsonOut != "" {
		f, err := os.OpenFile(*jsonOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		enc := json.NewEncoder(f)
		for _, p := range phases {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
	}
	return nil
}

type generator struct {
	base          string
	mix           []corpus.Review
	client        *http.Client
	timeout       time.Duration
	checkVerdicts bool
	seq           atomic.Uint64
	reported      atomic.Int64 // wrong verdicts printed so far
}

// sample is one request's outcome.
type sample struct {
	latency time.Duration
	err     string // "" when the answer was a well-formed review for this request
	wrong   bool
}

// openLoop sends rate requests per second for d, each at its scheduled
// time whatever the answers before it, and measures each from that time:
// when the server falls behind, the wait shows in the latency instead of
// silently lowering the rate (no coordinated omission).
func (g *generator) openLoop(label string, rate float64, d time.Duration) Phase {
	n := int(rate * d.Seconds())
	samples := make([]sample, n)
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	start := time.Now().Add(5 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() { samples[i] = g.send(at) })
	}
	wg.Wait()
	return summarize(label, rate, 0, time.Since(start), samples)
}

// closedLoop runs clients that each send the next request as soon as the
// last is answered, for d: the server's maximum throughput.
func (g *generator) closedLoop(label string, clients int, d time.Duration) Phase {
	var mu sync.Mutex
	var samples []sample
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Go(func() {
			var mine []sample
			for time.Now().Before(deadline) {
				mine = append(mine, g.send(time.Now()))
			}
			mu.Lock()
			samples = append(samples, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(label, 0, clients, time.Since(start), samples)
}

// send posts the next request of the mix with a fresh UID and checks the
// answer; latency runs from at, the time the request was due.
func (g *generator) send(at time.Time) sample {
	n := g.seq.Add(1)
	req := g.mix[int(n)%len(g.mix)]
	uid := fmt.Sprintf("%08x-0000-4000-8000-%012x", n>>48, n&(1<<48-1))
	body := io.MultiReader(bytes.NewReader(req.Prefix), strings.NewReader(uid), bytes.NewReader(req.Suffix))
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+req.Path+"?timeout=10s", body)
	if err != nil {
		return sample{latency: time.Since(at), err: "request"}
	}
	hr.ContentLength = int64(len(req.Prefix) + len(uid) + len(req.Suffix))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(hr)
	if err != nil {
		kind := "transport"
		if errors.Is(err, context.DeadlineExceeded) {
			kind = "timeout"
		}
		return sample{latency: time.Since(at), err: kind}
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(at)
	if err != nil {
		return sample{latency: lat, err: "transport"}
	}
	if resp.StatusCode != http.StatusOK {
		return sample{latency: lat, err: fmt.Sprintf("http %d", resp.StatusCode)}
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil || review.Response == nil {
		return sample{latency: lat, err: "decode"}
	}
	if string(review.Response.UID) != uid {
		return sample{latency: lat, err: "wrong uid"}
	}
	if review.Response.Result != nil && review.Response.Result.Code >= 500 {
		return sample{latency: lat, err: "webhook error"}
	}
	got := corpus.Allowed
	switch {
	case !review.Response.Allowed:
		got = corpus.Denied
	case len(review.Response.Patch) > 0:
		got = corpus.Patched
	}
	wrong := g.checkVerdicts && got != req.Want
	if wrong && g.reported.Add(1) <= 5 {
		fmt.Fprintf(os.Stderr, "loadgen: %s %s %s: want %s, got %s: %s\n", req.Path, req.Kind, req.Name, req.Want, got, review.Response.Result)
	}
	return sample{latency: lat, wrong: wrong}
}

func summarize(label string, rate float64, clients int, elapsed time.Duration, samples []sample) Phase {
	p := Phase{Label: label, Rate: rate, Clients: clients, Duration: elapsed.Seconds(), Sent: len(samples), Errors: map[string]int{}}
	lat := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		lat = append(lat, s.latency)
		if s.err != "" {
			p.Errors[s.err]++
			continue
		}
		p.OK++
		if s.wrong {
			p.WrongVerdicts++
		}
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(len(lat)-1, int(q*float64(len(lat))))
		return float64(lat[i].Microseconds()) / 1000
	}
	p.P50, p.P90, p.P99 = ms(0.50), ms(0.90), ms(0.99)
	if len(lat) > 0 {
		p.Max = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	p.Throughput = float64(p.OK) / elapsed.Seconds()
	return p
}

func printPhase(p Phase) {
	load := fmt.Sprintf("%6.0f/s", p.Rate)
	if p.Rate == 0 {
		load = fmt.Sprintf("max (%d clients)", p.Clients)
	}
	fmt.Printf("%-8s %-16s sent %6d ok %6d  %7.0f/s  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %8.2f ms  errors %v  wrong verdicts %d\n",
		p.Label, load, p.Sent, p.OK, p.Throughput, p.P50, p.P90, p.P99, p.Max, p.Errors, p.WrongVerdicts)
}

// requireLoopback refuses any address that is not on this machine's
// loopback: the benchmark must never send load anywhere else.
func requireLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; loadgen only talks to 127.0.0.0/8 or ::1", hostport)
	}
	return nil
}
