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

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// Phase is one measured stretch of load.
type Phase struct {
	Label string `json:"label"`
	// Rate is the open-loop target in requests per second; 0 for the
	// closed-loop maximum-rate phase.
	Rate    float64 `json:"rate"`
	Clients int     `json:"clients,omitempty"`
	// Duration is the measured time, all slices of the phase together.
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
	targetsFlag := fs.String("targets", "", "servers to load, label=https://127.0.0.1:PORT, comma-separated; phases alternate between them")
	caFile := fs.String("ca", "", "CA certificate the servers' certificates are signed by")
	unchecked := fs.String("unchecked", "floor", "comma-separated labels whose verdicts are not checked (the floor allows everything)")
	ratesFlag := fs.String("rates", "250,500,1000,2000", "open-loop rates, requests per second")
	duration := fs.Duration("duration", 5*time.Second, "length of one slice of a phase")
	repeat := fs.Int("repeat", 2, "slices per phase and server, alternating between the servers so that both see the same machine; their samples are pooled")
	warmup := fs.Bool("warmup", true, "send the whole mix once to each server, unmeasured, at 500 requests/s: the steady state is what a long-running webhook sees")
	clients := fs.Int("max-clients", 32, "concurrent clients of the maximum-rate phase (0 skips it)")
	conns := fs.Int("conns", 64, "keep-alive connections at most; requests beyond wait for one, and the wait counts")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request time-out (the API server's default for webhooks)")
	stacks := fs.Int("stacks", 500, "stacks in the mix; the cluster should hold their compliant versions")
	wrongEvery := fs.Int("wrong-every", 4, "one stack in this many re-applies a mistake")
	jsonOut := fs.String("json", "", "append the phases as JSON lines to this file")
	fs.Parse(args)

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
	fmt.Fprintf(os.Stderr, "loadgen: mix of %d requests (%s)\n", len(mix), corpus.Summarize(mix))

	var gens []*generator
	for _, t := range strings.Split(*targetsFlag, ",") {
		label, target, ok := strings.Cut(strings.TrimSpace(t), "=")
		u, err := url.Parse(target)
		if !ok || err != nil || u.Scheme != "https" {
			return fmt.Errorf("-targets: want label=https://127.0.0.1:PORT, got %q", t)
		}
		if err := requireLoopback(u.Host); err != nil {
			return err
		}
		gens = append(gens, &generator{
			label: label, base: strings.TrimSuffix(target, "/"), mix: mix, timeout: *timeout,
			checkVerdicts: !slices.Contains(strings.Split(*unchecked, ","), label),
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
		})
	}
	if *warmup {
		for _, g := range gens {
			g.openLoop(500, time.Duration(len(mix))*time.Second/500)
		}
	}
	var phases []Phase
	measure := func(rate float64, clients int, run func(g *generator) ([]sample, time.Duration)) {
		pooled := make([][]sample, len(gens))
		elapsed := make([]time.Duration, len(gens))
		for range *repeat {
			for i, g := range gens {
				smp, d := run(g)
				pooled[i] = append(pooled[i], smp...)
				elapsed[i] += d
			}
		}
		for i, g := range gens {
			p := summarize(g.label, rate, clients, elapsed[i], pooled[i])
			phases = append(phases, p)
			printPhase(p)
		}
	}
	for _, r := range rates {
		measure(r, 0, func(g *generator) ([]sample, time.Duration) { return g.openLoop(r, *duration) })
	}
	if *clients > 0 {
		measure(0, *clients, func(g *generator) ([]sample, time.Duration) { return g.closedLoop(*clients, *duration) })
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
	label         string
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
func (g *generator) openLoop(rate float64, d time.Duration) ([]sample, time.Duration) {
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
	return samples, time.Since(start)
}

// closedLoop runs clients that each send the next request as soon as the
// last is answered, for d: the server's maximum throughput.
func (g *generator) closedLoop(clients int, d time.Duration) ([]sample, time.Duration) {
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
	return samples, time.Since(start)
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
	answer, err := corpus.ReadAnswer(data, uid)
	switch {
	case errors.Is(err, corpus.ErrUndecodable):
		return sample{latency: lat, err: "decode"}
	case errors.Is(err, corpus.ErrWrongUID):
		return sample{latency: lat, err: "wrong uid"}
	case err != nil:
		return sample{latency: lat, err: "webhook error"}
	case answer.Refused:
		// Refused at once by the in-flight bound (the API server's client
		// retries it): not an answer, so not a wrong one.
		return sample{latency: lat, err: "refused 429"}
	}
	got := answer.Verdict
	wrong := g.checkVerdicts && got != req.Want
	if wrong && g.reported.Add(1) <= 5 {
		fmt.Fprintf(os.Stderr, "loadgen: %s %s %s: want %s, got %s: %s\n", req.Path, req.Kind, req.Name, req.Want, got, answer.Result)
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
