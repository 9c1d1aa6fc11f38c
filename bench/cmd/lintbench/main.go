// Command lintbench times `gjallar lint` against its floor (`gjallar lint
// --parse-only`: the same files read and parsed into YAML nodes by the same
// loader, nothing after) and against conftest with bench/conftest-policies,
// on bench/corpus trees of several sizes, in one run. Each tool runs as its
// own process; wall time is the median of -runs, peak RSS and CPU time come
// from the kernel's accounting of the child (getrusage).
//
//	lintbench -gjallar BIN -conftest BIN -policies bench/conftest-policies -work DIR
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
		gjallar, conftest, policies, work, jsonOut, sizesFlag string
		runs, bigRuns, layoutsAt                              int
	)
	flag.StringVar(&gjallar, "gjallar", "", "gjallar binary")
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
	b := &bench{gjallar: gjallar, conftest: conftest, policies: policies, work: work}
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
	gjallar, conftest, policies, work string
	conftestOff                       bool
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
	if b.conftest != "" && !b.conftestOff {
		tools = append(tools, struct {
			name string
			cmd  func() *exec.Cmd
			ok   func(int) bool
		}{"conftest", func() *exec.Cmd {
			return exec.Command(b.conftest, "test", "--no-color", "--policy", b.policies, dir)
		}, func(c int) bool { return c <= 1 }})
	}
	var out []Result
	for _, t := range tools {
		var walls, cpus []float64
		res := Result{Tool: t.name, Layout: string(layout), Objects: sum.Objects, Files: sum.Files, Runs: runs}
		for range runs {
			m, err := measure(t.cmd())
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", t.name, dir, err)
			}
			if !t.ok(m.exit) {
				return nil, fmt.Errorf("%s on %s exited %d: %s", t.name, dir, m.exit, m.stderr)
			}
			walls = append(walls, m.wall)
			cpus = append(cpus, m.cpu)
			res.RSS = max(res.RSS, m.rss)
			res.Findings = m.findings(t.name)
		}
		res.Wall, res.WallMin, res.CPU = median(walls), slices.Min(walls), median(cpus)
		fmt.Fprintf(os.Stderr, "lintbench:   %-8s %8.3f s  %7.1f MiB  %d findings\n", t.name, res.Wall, float64(res.RSS)/1024, res.Findings)
		out = append(out, res)
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
