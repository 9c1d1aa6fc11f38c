package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// probePeriod is how often the harness probes a replica's readiness and
// updates its endpoint (the kubelet's readinessProbe period is 5s in the
// chart, but a deleted pod's endpoint is marked terminating at once).
const probePeriod = 250 * time.Millisecond

// Replica is one `gjallar webhook` process, as one pod of the Deployment.
type Replica struct {
	Name                                    string
	Port, ProbePort, MetricsPort, PprofPort int
	CertDir                                 string
	Logs                                    *SyncBuffer

	c      *Cluster
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit error, once exited

	mu          sync.Mutex
	ready       bool
	unready     int // times the probe went from ready to not ready
	terminating bool
	stop        context.CancelFunc // ends the kubelet's and endpoint controller's loops
	loops       sync.WaitGroup
	syncMu      sync.Mutex // one EndpointSlice write at a time, each of the latest state
}

// StartReplica starts a replica with the harness's flags and args after
// them (later flags win). It returns once the process runs; WaitReady
// waits for its endpoint to be ready.
func (c *Cluster) StartReplica(ctx context.Context, name string, env []string, args ...string) (*Replica, error) {
	return c.StartReplicaOn(ctx, name, "", env, args...)
}

// StartReplicaOn is StartReplica with the process bound to the CPUs
// listed (taskset's syntax), so that a load generator on the same machine
// can outrun it; "" binds nothing.
func (c *Cluster) StartReplicaOn(ctx context.Context, name, cpus string, env []string, args ...string) (*Replica, error) {
	r := &Replica{Name: name, c: c, Logs: &SyncBuffer{}, exited: make(chan struct{}),
		CertDir: filepath.Join(c.Dir, "replicas", name, "certs")}
	var err error
	for _, p := range []*int{&r.Port} {
		if *p, err = FreePort(c.NodeIP); err != nil {
			return nil, err
		}
	}
	for _, p := range []*int{&r.ProbePort, &r.MetricsPort, &r.PprofPort} {
		if *p, err = FreePort("127.0.0.1"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.CertDir, 0o755); err != nil {
		return nil, err
	}
	config := filepath.Join(c.Dir, "gjallar.yaml")
	if err := os.WriteFile(config, []byte("rules: {}\n"), 0o644); err != nil {
		return nil, err
	}
	flags := []string{"webhook",
		"--kubeconfig", c.ReplicaKubeconfig, "--namespace", Namespace, "--service-name", ServiceName,
		"--host", c.NodeIP, "--port", strconv.Itoa(r.Port), "--cert-dir", r.CertDir,
		"--config", config, "--reload-interval", "5s",
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", r.ProbePort),
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", r.MetricsPort),
		"--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", r.PprofPort),
		// The background audit is not under test here; its passes would
		// only take CPU from the load.
		"--audit-interval", "0",
	}
	r.cmd = exec.Command(c.Bin, append(flags, args...)...)
	if cpus != "" {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("binding replica %s to CPUs %s: %w", name, cpus, err)
		}
		r.cmd = exec.Command(taskset, append([]string{"-c", cpus, c.Bin}, append(flags, args...)...)...)
	}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.Logs, r.Logs
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	r.loops.Go(func() { r.projectCertificate(loopCtx) })
	if err := r.cmd.Start(); err != nil {
		stop()
		return nil, fmt.Errorf("starting replica %s: %w", name, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.exited)
	}()
	r.loops.Go(func() { r.probeLoop(loopCtx) })
	return r, nil
}

// WaitReady waits until the replica's endpoint is listed ready.
func (r *Replica) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		ready := r.ready
		r.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("replica %s exited before it was ready: %v\n%s", r.Name, r.err, r.Logs.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("replica %s not ready within %s\n%s", r.Name, timeout, r.Logs.Tail(40))
}

// Exit is how a replica ended.
type Exit struct {
	// Code is the exit status; -1 when killed by a signal.
	Code int
	// Killed is true when the harness had to SIGKILL it after the grace
	// period, as the kubelet would.
	Killed bool
	After  time.Duration
}

// Terminate stops the replica as the kubelet stops a deleted pod: the
// endpoint goes terminating (not ready) and the process gets SIGTERM at the
// same moment, then SIGKILL if it has not exited after grace.
func (r *Replica) Terminate(grace time.Duration) Exit {
	start := time.Now()
	r.mu.Lock()
	r.terminating = true
	r.mu.Unlock()
	go r.syncEndpoint(context.Background())
	r.cmd.Process.Signal(syscall.SIGTERM)
	killed := false
	select {
	case <-r.exited:
	case <-time.After(grace):
		killed = true
		r.cmd.Process.Kill()
		<-r.exited
	}
	r.remove()
	return Exit{Code: r.cmd.ProcessState.ExitCode(), Killed: killed, After: time.Since(start)}
}

// Kill SIGKILLs the replica (an OOM kill, a lost node: nothing is
// released). Its endpoint stays listed until the probe fails, as it would
// until the kubelet noticed; then the pod is gone.
func (r *Replica) Kill() {
	r.cmd.Process.Kill()
	<-r.exited
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		ready := r.ready
		r.mu.Unlock()
		if !ready {
			break
		}
		time.Sleep(probePeriod / 2)
	}
	r.remove()
}

// Unready counts the times the replica's readiness probe went from passing
// to failing.
func (r *Replica) Unready() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unready
}

// Alive reports whether the process still runs.
func (r *Replica) Alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// remove ends the loops and deletes the replica's EndpointSlice (the pod
// is gone).
func (r *Replica) remove() {
	r.stop()
	r.loops.Wait()
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: r.sliceName(), Namespace: Namespace}}
	if err := r.c.Admin.Delete(context.Background(), slice); err != nil && !apierrors.IsNotFound(err) {
		r.c.logf("deleting EndpointSlice of %s: %v", r.Name, err)
	}
}

func (r *Replica) sliceName() string { return ServiceName + "-" + r.Name }

// probeLoop is the kubelet's readiness probe and the endpoint controller.
func (r *Replica) probeLoop(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	t := time.NewTicker(probePeriod)
	defer t.Stop()
	for {
		ok := false
		if r.Alive() {
			if resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", r.ProbePort)); err == nil {
				ok = resp.StatusCode == http.StatusOK
				resp.Body.Close()
			}
		}
		r.mu.Lock()
		changed := ok != r.ready
		if r.ready && !ok {
			r.unready++
		}
		r.ready = ok
		r.mu.Unlock()
		if changed {
			r.syncEndpoint(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncEndpoint writes the replica's EndpointSlice as the endpoint
// controller would: ready when ready and not terminating.
func (r *Replica) syncEndpoint(ctx context.Context) {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	r.mu.Lock()
	ready, terminating := r.ready && !r.terminating, r.terminating
	serving := r.ready
	r.mu.Unlock()
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: r.sliceName(), Namespace: Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: ServiceName,
			discoveryv1.LabelManagedBy:   "gjallar-faults-harness",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{r.c.NodeIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(r.Port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var cur discoveryv1.EndpointSlice
	err := r.c.Admin.Get(ctx, client.ObjectKeyFromObject(slice), &cur)
	switch {
	case apierrors.IsNotFound(err):
		err = r.c.Admin.Create(ctx, slice)
	case err == nil:
		slice.ResourceVersion = cur.ResourceVersion
		err = r.c.Admin.Update(ctx, slice)
	}
	if err != nil {
		r.c.logf("EndpointSlice of %s: %v", r.Name, err)
	}
}

// projectCertificate is the kubelet's Secret volume: it writes the
// certificate Secret's keys into CertDir, all at once, by swapping a
// symlinked directory, whenever the Secret changes.
func (r *Replica) projectCertificate(ctx context.Context) {
	var last string
	gen := 0
	for ctx.Err() == nil {
		var s corev1.Secret
		err := r.c.Admin.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: "gjallar-webhook-cert"}, &s)
		if err == nil && len(s.Data["tls.crt"]) > 0 && s.ResourceVersion != last {
			gen++
			if err := swapDir(r.CertDir, gen, s.Data); err != nil {
				r.c.logf("projecting the certificate of %s: %v", r.Name, err)
			} else {
				last = s.ResourceVersion
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// swapDir is the kubelet's atomic writer: files in a new directory, then
// the ..data symlink renamed over, with each key a symlink into ..data.
func swapDir(dir string, gen int, data map[string][]byte) error {
	version := fmt.Sprintf("..%d", gen)
	if err := os.MkdirAll(filepath.Join(dir, version), 0o755); err != nil {
		return err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, version, k), v, 0o600); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(version, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for k := range data {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			return err
		}
	}
	if gen > 1 {
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("..%d", gen-1)))
	}
	return nil
}

// Metrics scrapes the replica's Prometheus metrics: series -> value.
func (r *Replica) Metrics() (map[string]float64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.MetricsPort))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndex(line, " ")
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// Metric is one series' value (0 when absent).
func (r *Replica) Metric(series string) float64 {
	m, err := r.Metrics()
	if err != nil {
		return -1
	}
	return m[series]
}

// CollectGarbage makes the replica run a full collection (through pprof),
// so that heap figures compare live data, not garbage.
func (r *Replica) CollectGarbage() error {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", r.PprofPort))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// PeakRSS is the process's high-water resident set (VmHWM), in bytes.
func (r *Replica) PeakRSS() (int64, error) {
	return procStatus(r.cmd.Process.Pid, "VmHWM")
}

func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New(field + " not in /proc status")
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail is the last n lines.
func (b *SyncBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// replicaSet starts the replicas of one scenario, named prefix-1,
// prefix-2, ... with the same flags, and kills those still running when
// the scenario ends.
type replicaSet struct {
	c      *Cluster
	prefix string
	args   []string
	all    []*Replica
}

// start starts the next replica without waiting for it to be ready.
func (s *replicaSet) start(ctx context.Context) (*Replica, error) {
	r, err := s.c.StartReplica(ctx, fmt.Sprintf("%s-%d", s.prefix, len(s.all)+1), nil, s.args...)
	if err != nil {
		return nil, err
	}
	s.all = append(s.all, r)
	return r, nil
}

// startReady starts the next replica and waits until it is ready.
func (s *replicaSet) startReady(ctx context.Context) (*Replica, error) {
	r, err := s.start(ctx)
	if err != nil {
		return nil, err
	}
	return r, r.WaitReady(60 * time.Second)
}

// killRunning kills every replica still running.
func (s *replicaSet) killRunning() {
	for _, r := range s.all {
		if r.Alive() {
			r.Kill()
		}
	}
}
