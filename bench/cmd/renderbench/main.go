// Command renderbench times what rendering in-process costs: `gjallar lint`
// on a Helm chart directory against `helm template | gjallar lint -`, and
// on a kustomization against `kustomize build | gjallar lint -`, in one run,
// alternating the two so both see the same machine. Wall time is the
// median of -runs; CPU time (user+system) and peak RSS are summed and
// maxed over the processes of a run, from the kernel's accounting.
//
//	renderbench -gjallar BIN -helm BIN -kustomize BIN -work DIR [-runs 7]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var gjallar, helm, kustomize, work, chart string
	var runs, services int
	flag.StringVar(&gjallar, "gjallar", "", "gjallar binary")
	flag.StringVar(&helm, "helm", "", "helm binary (v3, built from the module proxy)")
	flag.StringVar(&kustomize, "kustomize", "", "kustomize binary (v5, built from the module proxy)")
	flag.StringVar(&work, "work", "", "directory for the generated chart and overlay")
	flag.StringVar(&chart, "chart", "charts/gjallar", "a real chart to measure too")
	flag.IntVar(&runs, "runs", 7, "runs per variant (median wall time)")
	flag.IntVar(&services, "services", 10, "services in the generated umbrella chart and overlay")
	flag.Parse()
	if gjallar == "" || helm == "" || kustomize == "" || work == "" {
		fmt.Fprintln(os.Stderr, "usage: renderbench -gjallar BIN -helm BIN -kustomize BIN -work DIR")
		os.Exit(2)
	}
	umbrella, overlay, err := generate(work, services)
	if err != nil {
		fmt.Fprintln(os.Stderr, "renderbench:", err)
		os.Exit(1)
	}
	values := filepath.Join(umbrella, "values-prod.yaml")
	cases := []struct {
		name          string
		inProcess     []string
		render        []string // the separate renderer, piped into gjallar lint -
		renderCommand string
	}{
		{"chart " + chart, []string{gjallar, "lint", "-q", "--format", "json", "--fail-on", "none", "--release-name", "gjallar", "--release-namespace", "gjallar-system", chart},
			[]string{helm, "template", "gjallar", chart, "-n", "gjallar-system"}, "helm template"},
		{fmt.Sprintf("umbrella chart, %d vendored subcharts", services), []string{gjallar, "lint", "-q", "--format", "json", "--fail-on", "none", "--release-name", "platform", "--release-namespace", "ai-external", "--values", values, umbrella},
			[]string{helm, "template", "platform", umbrella, "-n", "ai-external", "-f", values}, "helm template"},
		{fmt.Sprintf("overlay on a base of %d services", services), []string{gjallar, "lint", "-q", "--format", "json", "--fail-on", "none", overlay},
			[]string{kustomize, "build", overlay}, "kustomize build"},
	}
	fmt.Println("| input | objects | findings (in-process / piped) | gjallar lint DIR | " + "renderer \\| gjallar lint - | ratio | CPU in-process / piped | peak RSS in-process / piped |")
	fmt.Println("|---|---:|---|---:|---:|---:|---|---|")
	for _, c := range cases {
		var inWall, pipeWall []float64
		var inLast, pipeLast sample
		for i := 0; i < runs; i++ {
			a, err := runAlone(c.inProcess)
			if err != nil {
				fmt.Fprintf(os.Stderr, "renderbench: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			b, err := runPiped(c.render, []string{gjallar, "lint", "-q", "--format", "json", "--fail-on", "none", "-"})
			if err != nil {
				fmt.Fprintf(os.Stderr, "renderbench: %s piped: %v\n", c.name, err)
				os.Exit(1)
			}
			inWall, pipeWall = append(inWall, a.wall), append(pipeWall, b.wall)
			inLast, pipeLast = a, b
		}
		mi, mp := median(inWall), median(pipeWall)
		fmt.Printf("| %s | %d | %d / %d | %.0f ms | %.0f ms (%s) | %.2fx | %.0f / %.0f ms | %d / %d MiB |\n",
			c.name, inLast.objects, inLast.findings, pipeLast.findings, mi*1000, mp*1000, c.renderCommand, mi/mp,
			inLast.cpu*1000, pipeLast.cpu*1000, inLast.rss>>10, pipeLast.rss>>10)
	}
}

type sample struct {
	wall, cpu         float64
	rss               int64 // KiB, the largest process
	objects, findings int
}

func runAlone(args []string) (sample, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	s := sample{wall: time.Since(start).Seconds()}
	s.account(cmd.ProcessState)
	return s, s.summary(out.Bytes())
}

// runPiped runs render | lint, both processes at once as a shell would.
func runPiped(render, lint []string) (sample, error) {
	r := exec.Command(render[0], render[1:]...)
	l := exec.Command(lint[0], lint[1:]...)
	pipe, err := r.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	l.Stdin = pipe
	var out bytes.Buffer
	l.Stdout, l.Stderr, r.Stderr = &out, io.Discard, io.Discard
	start := time.Now()
	if err := r.Start(); err != nil {
		return sample{}, err
	}
	if err := l.Start(); err != nil {
		return sample{}, err
	}
	rerr, lerr := r.Wait(), l.Wait()
	s := sample{wall: time.Since(start).Seconds()}
	if rerr != nil || lerr != nil {
		return s, fmt.Errorf("%v / %v", rerr, lerr)
	}
	s.account(r.ProcessState)
	s.account(l.ProcessState)
	return s, s.summary(out.Bytes())
}

func (s *sample) account(ps *os.ProcessState) {
	s.cpu += (ps.UserTime() + ps.SystemTime()).Seconds()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > s.rss {
		s.rss = ru.Maxrss
	}
}

func (s *sample) summary(report []byte) error {
	var rep struct {
		Findings []json.RawMessage `json:"findings"`
		Summary  struct {
			Objects int `json:"objects"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(report, &rep); err != nil {
		return fmt.Errorf("reading the JSON report: %w", err)
	}
	s.objects, s.findings = rep.Summary.Objects, len(rep.Findings)
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
