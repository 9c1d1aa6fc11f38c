// Command auditbench measures the audit on the benchmark cluster
// (bench/cmd/cluster) for BENCHMARKS.md; bench/run.sh runs it:
//
//	go run ./bench/cmd/auditbench -gjallar BIN -dir CLUSTERDIR
//
// It measures, in turn:
//   - `gjallar audit -A` against the cluster as seeded: wall time (median
//     of -runs), CPU, peak RSS and API requests, next to the floor, the
//     same audit with every rule and built-in policy off (the same
//     discovery, paged LISTs and decoding, no evaluation), and to
//     `kubectl get -o json` of the same kinds with the same page size, what
//     reading and printing those objects costs a common client;
//   - the webhook's background audit: the CPU of a `gjallar webhook` with
//     its audit every -interval, minus that of the same webhook idle with
//     the audit off over as long, per pass;
//   - both again after -wrong stacks with one mistake each are added, so
//     that passes find something and write reports.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

// resources are the kinds `gjallar audit -A` lists on the benchmark
// cluster (the Gateway API standard CRDs and kgateway's installed), for
// the kubectl floor.
const resources = "namespaces,configmaps,services,persistentvolumeclaims,pods,deployments.apps,statefulsets.apps,daemonsets.apps," +
	"replicasets.apps,jobs.batch,cronjobs.batch,horizontalpodautoscalers.autoscaling,gateways.gateway.networking.k8s.io," +
	"gatewayclasses.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,referencegrants.gateway.networking.k8s.io," +
	"grpcroutes.gateway.networking.k8s.io,gatewayparameters.gateway.kgateway.dev"

func main() {
	var (
		bin, dir         string
		runs, wrong      int
		interval, window time.Duration
	)
	flag.StringVar(&bin, "gjallar", "gjallar", "the gjallar binary")
	flag.StringVar(&dir, "dir", "", "the benchmark cluster's directory (kubeconfig, certs/)")
	flag.IntVar(&runs, "runs", 3, "audits (and floors) per row; the median is shown")
	flag.IntVar(&wrong, "wrong", 50, "stacks with one mistake each to add for the second row")
	flag.DurationVar(&interval, "interval", 10*time.Second, "the background audit's interval while measuring")
	flag.DurationVar(&window, "window", time.Minute, "how long to measure the webhook, with and without the audit")
	flag.Parse()
	if dir == "" {
		fmt.Fprintln(os.Stderr, "usage: auditbench -gjallar BIN -dir CLUSTERDIR")
		os.Exit(2)
	}
	b := &bench{bin: bin, dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig"), runs: runs, interval: interval, window: window}
	if err := b.run(wrong); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	bin, dir, kubeconfig string
	runs                 int
	interval, window     time.Duration
	rows                 []row
	passes               []passRow
}

type row struct {
	label                      string
	objects, requests, finding int
	audit, floor, kubectl      measurement
	floorRequests              int
}

type measurement struct {
	wall, cpu time.Duration
	rssKiB    int64
}

type passRow struct {
	label                      string
	passes                     int
	cpuPerPass, idleCPUPerPass time.Duration
	evaluate, write            time.Duration // mean per pass
	writes                     int
}

func (b *bench) run(wrong int) error {
	if err := b.auditRow("as seeded"); err != nil {
		return err
	}
	if err := b.background("as seeded"); err != nil {
		return err
	}
	if wrong > 0 {
		if err := b.addWrongStacks(wrong); err != nil {
			return err
		}
		label := fmt.Sprintf("+%d wrong stacks", wrong)
		if err := b.auditRow(label); err != nil {
			return err
		}
		if err := b.background(label); err != nil {
			return err
		}
	}
	b.print()
	return nil
}

var summaryLine = regexp.MustCompile(`in (\d+) objects? \((\d+) kinds read, (\d+) API requests`)

// auditRow measures gjallar audit -A and the kubectl floor.
func (b *bench) auditRow(label string) error {
	r := row{label: label}
	off, err := b.rulesOff()
	if err != nil {
		return err
	}
	audit := func(extra ...string) (measurement, int, int, []byte, error) {
		args := append([]string{"audit", "--kubeconfig", b.kubeconfig, "-A", "--format", "json", "--fail-on", "none"}, extra...)
		cmd := exec.Command(b.bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		m, out, err := measure(cmd)
		if err != nil {
			return m, 0, 0, nil, fmt.Errorf("gjallar %s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		sm := summaryLine.FindStringSubmatch(stderr.String())
		if sm == nil {
			return m, 0, 0, nil, fmt.Errorf("no summary line in %q", stderr.String())
		}
		objects, _ := strconv.Atoi(sm[1])
		requests, _ := strconv.Atoi(sm[3])
		return m, objects, requests, out, nil
	}
	var audits, floors, kubectls []measurement
	for range b.runs {
		m, objects, requests, out, err := audit()
		if err != nil {
			return err
		}
		audits = append(audits, m)
		r.objects, r.requests, r.finding = objects, requests, strings.Count(string(out), `"rule":`)

		fm, _, floorRequests, _, err := audit("--config", off, "--no-builtin-policies")
		if err != nil {
			return err
		}
		floors = append(floors, fm)
		r.floorRequests = floorRequests

		kubectl := exec.Command("kubectl", "--kubeconfig", b.kubeconfig, "get", resources, "-A", "-o", "json", "--chunk-size=500")
		km, _, err := measure(kubectl)
		if err != nil {
			return fmt.Errorf("kubectl get: %w", err)
		}
		kubectls = append(kubectls, km)
	}
	r.audit, r.floor, r.kubectl = medianOf(audits), medianOf(floors), medianOf(kubectls)
	b.rows = append(b.rows, r)
	fmt.Fprintf(os.Stderr, "auditbench: %s: audit %s, floor %s\n", label, r.audit.wall, r.floor.wall)
	return nil
}

// rulesOff writes a .gjallar.yaml that disables every built-in rule.
func (b *bench) rulesOff() (string, error) {
	out, err := exec.Command(b.bin, "rules", "--format", "json").Output()
	if err != nil {
		return "", fmt.Errorf("gjallar rules: %w", err)
	}
	var listed []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &listed); err != nil {
		return "", err
	}
	cfg := map[string]any{}
	for _, r := range listed {
		if r.ID != "endpoint-hostname" && r.ID != "plaintext-secret" && r.ID != "policy-error" {
			cfg[r.ID] = map[string]any{"disabled": true}
		}
	}
	data, err := yaml.Marshal(map[string]any{"rules": cfg})
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.dir, "rules-off.yaml")
	return path, os.WriteFile(path, data, 0o644)
}

func measure(cmd *exec.Cmd) (measurement, []byte, error) {
	start := time.Now()
	out, err := cmd.Output()
	m := measurement{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		m.rssKiB = ru.Maxrss
	}
	return m, out, err
}

func medianOf(ms []measurement) measurement {
	sort.Slice(ms, func(i, j int) bool { return ms[i].wall < ms[j].wall })
	return ms[len(ms)/2]
}

// background runs the webhook twice for the window: with the audit every
// interval, and with it off, and charges each pass the CPU difference.
func (b *bench) background(label string) error {
	idle, _, err := b.webhook(0)
	if err != nil {
		return err
	}
	busy, metrics, err := b.webhook(b.interval)
	if err != nil {
		return err
	}
	passes := int(metrics["gjallar_audit_duration_seconds_count{phase=\"evaluate\"}"])
	if passes == 0 {
		return errors.New("the background audit made no pass")
	}
	pr := passRow{
		label: label, passes: passes,
		cpuPerPass:     (busy - idle) / time.Duration(passes),
		idleCPUPerPass: idle / time.Duration(passes),
		evaluate:       seconds(metrics["gjallar_audit_duration_seconds_sum{phase=\"evaluate\"}"] / float64(passes)),
		write:          seconds(metrics["gjallar_audit_duration_seconds_sum{phase=\"write\"}"] / float64(passes)),
	}
	for k, v := range metrics {
		if strings.HasPrefix(k, "gjallar_audit_report_writes_total") {
			pr.writes += int(v)
		}
	}
	b.passes = append(b.passes, pr)
	fmt.Fprintf(os.Stderr, "auditbench: %s: %d passes, %s CPU per pass\n", label, passes, pr.cpuPerPass)
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// webhook runs `gjallar webhook` for the window once it is ready and
// returns the CPU it used meanwhile and how much its gjallar_audit
// metrics grew meanwhile.
func (b *bench) webhook(interval time.Duration) (time.Duration, map[string]float64, error) {
	port, probe, metricsPort := freePort(), freePort(), freePort()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, "webhook", "--kubeconfig", b.kubeconfig, "--manage-certs=false",
		"--cert-dir", filepath.Join(b.dir, "certs"), "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--leader-elect=false", "--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probe), "--audit-interval", interval.String())
	logs, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("auditbench-webhook-%s.log", interval)))
	if err != nil {
		return 0, nil, err
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the benchmark
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	defer func() { _ = cmd.Wait() }()
	defer cancel()
	if err := waitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe), time.Minute); err != nil {
		return 0, nil, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	start, err := scrape(metricsURL)
	if err != nil {
		return 0, nil, err
	}
	before, err := processCPU(cmd.Process.Pid)
	if err != nil {
		return 0, nil, err
	}
	time.Sleep(b.window)
	after, err := processCPU(cmd.Process.Pid)
	if err != nil {
		return 0, nil, err
	}
	end, err := scrape(metricsURL)
	if err != nil {
		return 0, nil, err
	}
	// What happened within the window, like the CPU.
	for k, v := range start {
		end[k] -= v
	}
	return after - before, end, nil
}

// processCPU reads a process's user and system time from /proc.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces): utime is the
	// 14th field of the line, stime the 15th.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration((utime + stime) * int64(time.Second) / ticks), nil
}

// scrape reads the gjallar_audit samples of a Prometheus endpoint.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gjallar_audit_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] += v
		}
	}
	return out, sc.Err()
}

func waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, timeout)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addWrongStacks creates n more stacks in namespaces of their own, each
// with one mistake, taken in turn from corpus.Defects.
func (b *bench) addWrongStacks(n int) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	const first = 100000 // far from the seeded stacks' numbers
	for i := first; i < first+n; i++ {
		ns := &unstructured.Unstructured{}
		ns.SetAPIVersion("v1")
		ns.SetKind("Namespace")
		ns.SetName(corpus.StackNamespace(i))
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		for _, doc := range corpus.StackDocs(i, corpus.Defects[(i-first)%len(corpus.Defects)]) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				return err
			}
			u := &unstructured.Unstructured{Object: m}
			if err := c.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
			}
		}
	}
	return nil
}

func (b *bench) print() {
	fmt.Println("### Audit: `gjallar audit -A` vs the same audit with every rule off (floor) vs `kubectl get -o json`")
	fmt.Println()
	fmt.Printf("Median of %d runs each.\n\n", b.runs)
	fmt.Println("| cluster | objects checked | findings | gjallar s | floor s | kubectl s | gjallar / floor | API requests gjallar / floor | CPU s gjallar / floor / kubectl | RSS MiB gjallar / floor / kubectl |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|---|---|")
	for _, r := range b.rows {
		fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.2f | %.2fx | %d / %d | %.2f / %.2f / %.2f | %d / %d / %d |\n",
			r.label, r.objects, r.finding, r.audit.wall.Seconds(), r.floor.wall.Seconds(), r.kubectl.wall.Seconds(),
			r.audit.wall.Seconds()/r.floor.wall.Seconds(), r.requests, r.floorRequests,
			r.audit.cpu.Seconds(), r.floor.cpu.Seconds(), r.kubectl.cpu.Seconds(),
			r.audit.rssKiB/1024, r.floor.rssKiB/1024, r.kubectl.rssKiB/1024)
	}
	fmt.Println()
	fmt.Printf("### Background audit: `gjallar webhook --audit-interval %s` vs the same webhook with the audit off, %s each\n\n", b.interval, b.window)
	fmt.Println("| cluster | passes | CPU ms per pass | idle webhook CPU ms over as long | evaluate ms per pass | write ms per pass | report writes |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, p := range b.passes {
		fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %d |\n", p.label, p.passes,
			ms(p.cpuPerPass), ms(p.idleCPUPerPass), ms(p.evaluate), ms(p.write), p.writes)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
