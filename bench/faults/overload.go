package faults

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/gjallar-dev/gjallar/charts"
)

// OverloadOptions sizes the overload scenario.
type OverloadOptions struct {
	// Stacks is the review mix's size; the cluster must hold them
	// (Options.Stacks).
	Stacks int
	// Factors are the overload phases, as multiples of the measured
	// maximum throughput.
	Factors []float64
	Phase   time.Duration
	// Clients of the closed-loop phase that measures the maximum.
	Clients int
	// Conns bounds the caller's calls in flight (and so its connections),
	// as an API server bounds its own requests in flight.
	Conns int
}

// OverloadResult is what the scenario measured.
type OverloadResult struct {
	Max    DirectStats
	Phases []DirectStats
	// The chart's container limits, the GOMEMLIMIT it derives, and the
	// replica's peak resident memory over the whole scenario.
	MemoryLimit, GoMemLimit, PeakRSS int64
	GOMAXPROCS                       int
	// Goroutines and live heap (after a forced collection) before the
	// load and once it is over.
	GoroutinesBefore, GoroutinesAfter float64
	HeapBefore, HeapAfter             float64
}

// chartLimits reads the default container limits from the chart: the
// memory limit, the GOMEMLIMIT the chart sets from it, and the CPUs.
func chartLimits() (memory, goMemLimit int64, cpus int, err error) {
	objs, err := charts.Render(ServiceName, Namespace, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			return 0, 0, 0, err
		}
		c := d.Spec.Template.Spec.Containers[0]
		memory = c.Resources.Limits.Memory().Value()
		cpus = int(math.Ceil(c.Resources.Limits.Cpu().AsApproximateFloat64()))
		for _, e := range c.Env {
			if e.Name == "GOMEMLIMIT" {
				goMemLimit, err = strconv.ParseInt(e.Value, 10, 64)
			}
		}
		return memory, goMemLimit, cpus, err
	}
	return 0, 0, 0, fmt.Errorf("the chart renders no Deployment")
}

// Overload runs one replica with the chart's limits (GOMEMLIMIT as the
// chart sets it, GOMAXPROCS at its CPU limit, as Go reads it from the
// cgroup in a pod), measures its maximum throughput with direct reviews,
// then offers several times that, open loop, by a caller that keeps at most
// Conns calls in flight, as an API server does.
func Overload(ctx context.Context, c *Cluster, o OverloadOptions, logf func(string, ...any)) (*OverloadResult, error) {
	res := &OverloadResult{}
	var err error
	if res.MemoryLimit, res.GoMemLimit, res.GOMAXPROCS, err = chartLimits(); err != nil {
		return nil, err
	}
	env := []string{fmt.Sprintf("GOMEMLIMIT=%d", res.GoMemLimit), fmt.Sprintf("GOMAXPROCS=%d", res.GOMAXPROCS)}
	// On a machine of few cores the load generator must outrun the
	// replica: the replica gets one core (its chart limit), the generator
	// the others.
	_, noTaskset := exec.LookPath("taskset")
	cpus, pinned := "", runtime.NumCPU() >= 2 && noTaskset == nil
	if pinned {
		cpus = "0"
		defer bindSelf(fmt.Sprintf("0-%d", runtime.NumCPU()-1))
		bindSelf(fmt.Sprintf("1-%d", runtime.NumCPU()-1))
		logf("replica bound to CPU 0, the load to CPUs 1-%d", runtime.NumCPU()-1)
	} else {
		logf("replica and load share the CPUs (one CPU, or no taskset)")
	}
	r, err := c.StartReplicaOn(ctx, fmt.Sprintf("overload-%d", time.Now().Unix()), cpus, env,
		// Alone, so no lease to wait for: a lease still held by an earlier
		// scenario's killed replica would start the restart controller (and
		// its goroutines) in the middle of the measurement.
		"--shutdown-delay", "0s", "--leader-elect=false")
	if err != nil {
		return nil, err
	}
	defer r.Kill()
	if err := r.WaitReady(60 * time.Second); err != nil {
		return nil, err
	}
	const timeout = 5 * time.Second // the chart's timeoutSeconds
	d, err := NewDirect(ctx, c, r, o.Stacks, o.Conns, timeout)
	if err != nil {
		return nil, err
	}
	// A long-running replica has built its cached views already.
	d.OpenLoop(200, time.Duration(len(d.mix))*time.Second/200)
	d.CloseIdle()
	if res.GoroutinesBefore, res.HeapBefore, err = settledFigures(r); err != nil {
		return nil, err
	}
	res.Max = d.ClosedLoop(o.Clients, o.Phase)
	logf("maximum: %s", res.Max)
	for _, f := range o.Factors {
		s := d.OpenLoop(f*res.Max.Throughput, o.Phase)
		res.Phases = append(res.Phases, s)
		logf("%.0fx the maximum: %s", f, s)
	}
	d.CloseIdle()
	// Wait for the server to let go of what the load made it hold, up to
	// its idle time-out; then compare.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		g, h, err := settledFigures(r)
		if err != nil {
			return nil, err
		}
		res.GoroutinesAfter, res.HeapAfter = g, h
		if (g <= res.GoroutinesBefore+goroutineSlack && h <= heapBound(res.HeapBefore)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if res.PeakRSS, err = r.PeakRSS(); err != nil {
		return nil, err
	}
	if m, err := r.Metrics(); err == nil {
		logf("replica: %.0f requests refused (validate), %.0f (mutate), %.0f TLS handshake errors",
			m[`gjallar_admission_refused_total{webhook="validate"}`], m[`gjallar_admission_refused_total{webhook="mutate"}`], m["gjallar_tls_handshake_errors_total"])
	}
	logf("goroutines %.0f -> %.0f, live heap %.1f -> %.1f MiB, peak RSS %.1f MiB (limit %.0f MiB, GOMEMLIMIT %.0f MiB)",
		res.GoroutinesBefore, res.GoroutinesAfter, res.HeapBefore/(1<<20), res.HeapAfter/(1<<20),
		float64(res.PeakRSS)/(1<<20), float64(res.MemoryLimit)/(1<<20), float64(res.GoMemLimit)/(1<<20))
	return res, nil
}

// bindSelf binds every thread of this process to cpus (taskset's syntax),
// when taskset is there; the figures then say so.
func bindSelf(cpus string) {
	if taskset, err := exec.LookPath("taskset"); err == nil {
		exec.Command(taskset, "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).Run()
	}
}

// goroutineSlack allows for goroutines that come and go at any time (a
// probe being answered, a reload tick).
const goroutineSlack = 5

// heapBound is the most live heap counted as back to baseline: the
// engine's per-kind memoized facts may be rebuilt in between.
func heapBound(before float64) float64 { return max(before*1.25, before+16<<20) }

// settledFigures forces a collection and reads goroutines and live heap.
func settledFigures(r *Replica) (goroutines, heap float64, err error) {
	if err := r.CollectGarbage(); err != nil {
		return 0, 0, err
	}
	m, err := r.Metrics()
	if err != nil {
		return 0, 0, err
	}
	return m["go_goroutines"], m["go_memstats_heap_alloc_bytes"], nil
}
