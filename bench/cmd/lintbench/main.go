// Command lintbench times `gjallar lint` against its floor (`gjallar lint
// --parse-only`: the same files read and parsed into YAML nodes by the same
// loader, nothing after) and against conftest with bench/conftest-policies,
// on bench/corpus trees of several sizes, in one run. Each tool runs as its
// own process; wall time is the median of -runs, peak RSS and CPU time come
// from the kernel's accounting of the child (getrusage).
//
// With -baseline, a second gjallar binary (an earlier commit) is timed in
// the same run, each run alternating with the current one, so the two are
// compared under the same load.
//
//	lintbench -gjallar BIN [-baseline BIN] -conftest BIN -policies bench/conftest-policies -work DIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// Result is one tool on one corpus.
type Result struct {
	Tool    string  `json:"tool"`
	Layout  string  `json:"layout"`
	Objects int     `json:"objects"`
	Files   int     `json:"files"`
	Wall    float64 `json:"wallSeconds"` // median
	WallMin float64 `json:"wallMinSeconds"`
	CPU     float64 `json:"cpuSeconds"` // user+system, median run
	RSS     int64   `json:"peakRSSKiB"` // largest of the runs
	// Findings is what the tool reported (conftest: failures).
	Findings int `json:"findings"`
	Runs     int `json:"runs"`
}

func main() {
	var (
		gjallar, baseline, conftest, policies, work, jsonOut, sizesFlag string
		runs, bigRuns, layoutsAt                                        int
	)
	flag.StringVar(&gjallar, "gjallar", "", "gjallar binary")
	flag.StringVar(&baseline, "baseline", "", "an earlier gjallar binary to time alongside (empty: not compared)")
	flag.StringVar(&conftest, "conftest", "", "conftest binary (empty: not compared)")
	flag.StringVar(&policies, "policies", "bench/conftest-policies", "conftest policy directory")
	flag.StringVar(&work, "work", "", "directory for the corpora (reused when present)")
	flag.StringVar(&sizesFlag, "sizes", "100,1000,10000,100000", "corpus sizes, in objects")
	flag.IntVar(&runs, "runs", 3, "runs per tool and size (median wall time)")
	flag.IntVar(&bigRuns, "big-runs", 1, "runs per tool for sizes of 50,000 objects and more")
	flag.IntVar(&layoutsAt, "layouts-at", 10000, "size at which to compare few and many files (0: skip)")
	flag.StringVar(&jsonOut, "json", "", "write the results as JSON to this file")
	flag.Parse()
	if gjallar == "" || work == "" {
		fmt.Fprintln(os.Stderr, "usage: lintbench -gjallar BIN [-conftest BIN] -work DIR [-sizes 100,1000] [-runs 3]")
		os.Exit(2)
	}
	var sizes []int
	for _, s := range strings.Split(sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fatal(fmt.Errorf("bad size %q", s))
		}
		sizes = append(sizes, n)
	}
	b := &bench{gjallar: gjallar, baseline: baseline, conftest: conftest, policies: policies, work: work}
	var results []Result
	for _, n := range sizes {
		r := runs
		if n >= 50000 {
			r = bigRuns
		}
		res, err := b.corpus(corpus.LayoutSplit, n, r)
		if err != nil {
			fatal(err)
		}
		results = append(results, res...)
	}
	var layouts []Result
	if layoutsAt > 0 {
		for _, l := range []corpus.Layout{corpus.LayoutBundle, corpus.LayoutSplit, corpus.LayoutObject} {
			b.conftestOff = true
			res, err := b.corpus(l, layoutsAt, runs)
			if err != nil {
				fatal(err)
			}
			layouts = append(layouts, res...)
		}
	}
	printSizes(results)
	if baseline != "" {
		printBaseline(results)
	}
	if len(layouts) > 0 {
		printLayouts(layouts)
	}
	if jsonOut != "" {
		data, _ := json.MarshalIndent(map[string]any{"sizes": results, "layouts": layouts}, "", "  ")
		if err := os.WriteFile(jsonOut, data, 0o644); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "lintbench:", err)
	os.Exit(1)
}

type bench struct {
	gjallar, baseline, conftest, policies, work string
	conftestOff                                 bool
}

// corpus writes (or reuses) one corpus and times the tools on it.
func (b *bench) corpus(layout corpus.Layout, n, runs int) ([]Result, error) {
	dir := filepath.Join(b.work, fmt.Sprintf("%s-%d", layout, n))
	sum, err := b.ensureCorpus(dir, layout, n)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "lintbench: %d objects in %d files (%s, %.1f MB)\n", sum.Objects, sum.Files, layout, float64(sum.Bytes)/1e6)
	// One unmeasured pass so every tool reads the files from the page cache.
	if _, err := measure(exec.Command(b.gjallar, "lint", "--parse-only", dir)); err != nil {
		return nil, err
	}
	tools := []struct {
		name string
		cmd  func() *exec.Cmd
		ok   func(int) bool
	}{
		{"floor", func() *exec.Cmd { return exec.Command(b.gjallar, "lint", "--parse-only", dir) }, func(c int) bool { return c == 0 }},
		{"gjallar", func() *exec.Cmd { return exec.Command(b.gjallar, "lint", "-q", dir) }, func(c int) bool { return c <= 1 }},
	}
	if b.baseline != "" {
		tools = append(tools, struct {
			name string
			cmd  func() *exec.Cmd
			ok   func(int) bool
		}{"baseline", func() *exec.Cmd { return exec.Command(b.baseline, "lint", "-q", dir) }, func(c int) bool { return c <= 1 }})
	}
	if b.conftest != "" && !b.conftestOff {
		tools = append(tools, struct {
			name string
			cmd  func() *exec.Cmd
			ok   func(int) bool
		}{"conftest", func() *exec.Cmd {
			return exec.Command(b.conftest, "test", "--no-color", "--policy", b.policies, dir)
		}, func(c int) bool { return c <= 1 }})
	}
	// Runs alternate between the tools, so a change of load during the
	// run weighs on all of them alike.
	out := make([]Result, len(tools))
	walls := make([][]float64, len(tools))
	cpus := make([][]float64, len(tools))
	for i, t := range tools {
		out[i] = Result{Tool: t.name, Layout: string(layout), Objects: sum.Objects, Files: sum.Files, Runs: runs}
	}
	for range runs {
		for i, t := range tools {
			m, err := measure(t.cmd())
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", t.name, dir, err)
			}
			if !t.ok(m.exit) {
				return nil, fmt.Errorf("%s on %s exited %d: %s", t.name, dir, m.exit, m.stderr)
			}
			walls[i] = append(walls[i], m.wall)
			cpus[i] = append(cpus[i], m.cpu)
			out[i].RSS = max(out[i].RSS, m.rss)
			out[i].Findings = m.findings(strings.Replace(t.name, "baseline", "gjallar", 1))
		}
	}
	for i := range out {
		out[i].Wall, out[i].WallMin, out[i].CPU = median(walls[i]), slices.Min(walls[i]), median(cpus[i])
		fmt.Fprintf(os.Stderr, "lintbench:   %-8s %8.3f s  %7.1f MiB  %d findings\n", out[i].Tool, out[i].Wall, float64(out[i].RSS)/1024, out[i].Findings)
	}
	return out, nil
}

func (b *bench) ensureCorpus(dir string, layout corpus.Layout, n int) (*corpus.Summary, error) {
	stamp := dir + ".summary.json" // beside the tree, so no tool reads it
	if data, err := os.ReadFile(stamp); err == nil {
		var s corpus.Summary
		if json.Unmarshal(data, &s) == nil {
			return &s, nil
		}
	}
	os.RemoveAll(dir)
	s, err := corpus.Write(corpus.Options{Stacks: corpus.StacksFor(n), Out: dir, Layout: layout, WrongEvery: 10})
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(s)
	return s, os.WriteFile(stamp, data, 0o644)
}

type measurement struct {
	wall, cpu      float64
	rss            int64
	exit           int
	stdout, stderr []byte
}

func measure(cmd *exec.Cmd) (*measurement, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return nil, err
		}
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	m := &measurement{wall: wall.Seconds(), exit: cmd.ProcessState.ExitCode(), stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if ru != nil {
		m.rss = ru.Maxrss // KiB on Linux
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return m, nil
}

// findings counts what a tool reported: gjallar's text format has a line
// per finding, conftest a FAIL line per failure.
func (m *measurement) findings(tool string) int {
	n := 0
	for _, line := range strings.Split(string(m.stdout), "\n") {
		switch {
		case tool == "gjallar" && strings.TrimSpace(line) != "":
			n++
		case tool == "conftest" && strings.HasPrefix(line, "FAIL"):
			n++
		}
	}
	return n
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func find(rs []Result, tool, layout string, objects int) *Result {
	for i := range rs {
		if rs[i].Tool == tool && rs[i].Layout == layout && rs[i].Objects == objects {
			return &rs[i]
		}
	}
	return nil
}

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

func printSizes(rs []Result) {
	fmt.Println("\n### Lint: gjallar vs its parse floor vs conftest (split layout: 3 files per stack)")
	fmt.Println()
	fmt.Println("| objects | files | floor s | gjallar s | conftest s | gjallar / floor | conftest / gjallar | gjallar objects/s | gjallar µs/object | RSS MiB floor / gjallar / conftest | findings gjallar / conftest |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	var sizes []int
	for _, r := range rs {
		if !slices.Contains(sizes, r.Objects) {
			sizes = append(sizes, r.Objects)
		}
	}
	for _, n := range sizes {
		f, g, c := find(rs, "floor", "split", n), find(rs, "gjallar", "split", n), find(rs, "conftest", "split", n)
		if f == nil || g == nil {
			continue
		}
		cs, cr, crss, cf := "–", "–", "–", "–"
		if c != nil {
			cs, cr, crss, cf = fmt.Sprintf("%.3f", c.Wall), fmt.Sprintf("%.1fx", c.Wall/g.Wall), mib(c.RSS), fmt.Sprint(c.Findings)
		}
		fmt.Printf("| %d | %d | %.3f | %.3f | %s | %.2fx | %s | %.0f | %.1f | %s / %s / %s | %d / %s |\n",
			n, g.Files, f.Wall, g.Wall, cs, g.Wall/f.Wall, cr, float64(n)/g.Wall, g.Wall/float64(n)*1e6, mib(f.RSS), mib(g.RSS), crss, g.Findings, cf)
	}
}

// printBaseline compares the current binary with the baseline, per object:
// what the change costs, from one run under one load.
func printBaseline(rs []Result) {
	fmt.Println("\n### Lint: this build against the baseline build, in the same run")
	fmt.Println()
	fmt.Println("| objects | baseline µs/object | gjallar µs/object | gjallar / baseline (wall) | CPU gjallar / baseline | RSS MiB baseline / gjallar | findings baseline / gjallar |")
	fmt.Println("|---:|---:|---:|---:|---:|---|---|")
	for _, r := range rs {
		if r.Tool != "gjallar" {
			continue
		}
		b := find(rs, "baseline", r.Layout, r.Objects)
		if b == nil {
			continue
		}
		fmt.Printf("| %d | %.1f | %.1f | %.3fx | %.3fx | %s / %s | %d / %d |\n", r.Objects,
			b.Wall/float64(r.Objects)*1e6, r.Wall/float64(r.Objects)*1e6, r.Wall/b.Wall, r.CPU/b.CPU, mib(b.RSS), mib(r.RSS), b.Findings, r.Findings)
	}
}

func printLayouts(rs []Result) {
	n := rs[0].Objects
	fmt.Printf("\n### Lint: the same %d objects in few or many files\n\n", n)
	fmt.Println("| layout | files | floor s | gjallar s | gjallar / floor | RSS MiB floor / gjallar |")
	fmt.Println("|---|---:|---:|---:|---:|---|")
	for _, l := range []string{"bundle", "split", "object"} {
		f, g := find(rs, "floor", l, n), find(rs, "gjallar", l, n)
		if f == nil || g == nil {
			continue
		}
		fmt.Printf("| %s | %d | %.3f | %.3f | %.2fx | %s / %s |\n", l, g.Files, f.Wall, g.Wall, g.Wall/f.Wall, mib(f.RSS), mib(g.RSS))
	}
}
