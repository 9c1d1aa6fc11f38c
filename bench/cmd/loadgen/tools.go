package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// portMain prints a free port on 127.0.0.1, for bench/run.sh.
func portMain() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// waitMain polls a loopback http URL until it answers 200.
func waitMain(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	target := fs.String("url", "", "http://127.0.0.1:PORT/readyz")
	timeout := fs.Duration("timeout", 90*time.Second, "give up after")
	fs.Parse(args)
	req, err := http.NewRequest(http.MethodGet, *target, nil)
	if err != nil {
		return err
	}
	if err := requireLoopback(req.URL.Host); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", *target, *timeout)
}

// compareMain prints the phases of two servers side by side, as a
// Markdown table with the ratios BENCHMARKS.md reports.
func compareMain(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	base := fs.String("base", "floor", "label of the server to compare against")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: loadgen compare [-base floor] PHASES.jsonl")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	type key struct {
		rate    float64
		clients int
	}
	byLabel := map[string]map[key]Phase{}
	var labels []string
	var keys []key
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p Phase
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return err
		}
		if byLabel[p.Label] == nil {
			byLabel[p.Label] = map[key]Phase{}
			labels = append(labels, p.Label)
		}
		k := key{p.Rate, p.Clients}
		if _, seen := byLabel[labels[0]][k]; !seen && p.Label == labels[0] {
			keys = append(keys, k)
		}
		byLabel[p.Label][k] = p
	}
	fmt.Println("| load | server | throughput /s | p50 ms | p90 ms | p99 ms | max ms | errors | wrong verdicts | p99 / " + *base + " | throughput / " + *base + " |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range keys {
		load := fmt.Sprintf("%.0f/s open loop", k.rate)
		if k.rate == 0 {
			load = fmt.Sprintf("max, %d clients", k.clients)
		}
		b, hasBase := byLabel[*base][k]
		for _, l := range labels {
			p, ok := byLabel[l][k]
			if !ok {
				continue
			}
			errs := 0
			for _, n := range p.Errors {
				errs += n
			}
			wrong := fmt.Sprint(p.WrongVerdicts)
			if l == *base {
				wrong = "(not checked)"
			}
			r99, rtp := "", ""
			if hasBase && l != *base && b.P99 > 0 && b.Throughput > 0 {
				r99, rtp = fmt.Sprintf("%.2fx", p.P99/b.P99), fmt.Sprintf("%.2fx", p.Throughput/b.Throughput)
			}
			fmt.Printf("| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %s | %s | %s |\n",
				load, l, p.Throughput, p.P50, p.P90, p.P99, p.Max, errs, wrong, r99, rtp)
		}
	}
	return sc.Err()
}
