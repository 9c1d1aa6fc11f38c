package faults

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gjallar-dev/gjallar/internal/envtestbin"
)

// The CI versions of the scenarios: less load and shorter phases than
// bench/cmd/faults runs for RELIABILITY.md, the same assertions. They
// assert counts (failed requests, rolls), never durations.

var cluster *Cluster

// apiServerInFlight is as many calls as an API server has in flight at
// most with its defaults (--max-requests-inflight 400 and
// --max-mutating-requests-inflight 200); it sheds the rest itself.
const apiServerInFlight = 600

// testStacks is the corpus seeded for the overload scenario's review mix.
const testStacks = 20

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		return m.Run() // benchmarks or fuzzing only: no control plane
	}
	if envtestbin.Dir() == "" {
		if os.Getenv("GJALLAR_REQUIRE_ENVTEST") != "" {
			fmt.Fprintln(os.Stderr, "GJALLAR_REQUIRE_ENVTEST is set but no kube-apiserver/etcd were found; run tools/envtest-bins.sh")
			return 1
		}
		fmt.Fprintln(os.Stderr, "faults: no kube-apiserver/etcd (tools/envtest-bins.sh); skipping")
		return m.Run()
	}
	if _, err := NodeIP(); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gjallar-faults")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctrllog.SetLogger(logr.Discard()) // envtest's own progress
	ctx := context.Background()
	crds, err := CRDDirs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	cluster, err = Start(ctx, Options{Dir: dir, Stacks: testStacks, CRDDirs: crds,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "faults: "+f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}

func requireCluster(t *testing.T) {
	t.Helper()
	if cluster == nil {
		t.Skip("no control plane (tools/envtest-bins.sh builds it)")
	}
}

// TestRollingRestartFailsNoRequest: both replicas restarted one after the
// other under steady load, with the drain: no API request fails, none gets
// a wrong answer, every Deployment is stamped, and every replica exits by
// itself, with status 0, inside its grace period.
func TestRollingRestartFailsNoRequest(t *testing.T) {
	requireCluster(t)
	res, err := RollingRestart(context.Background(), cluster, RollingOptions{
		Rate: 30, ShutdownDelay: 3 * time.Second, Settle: 2 * time.Second, Rounds: 1,
	}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Load)
	if res.Load.Sent < 100 {
		t.Errorf("only %d requests sent", res.Load.Sent)
	}
	if res.Load.Problems() != 0 {
		t.Errorf("%d requests failed or were answered wrongly during the rolling restart: %v", res.Load.Problems(), res.Load.Samples)
	}
	for i, e := range res.Exits {
		if e.Killed || e.Code != 0 {
			t.Errorf("replica %d: exit %+v, want a clean exit within the grace period", i, e)
		}
	}
}

// TestFailoverRollsEachChangeOnce: the leader is SIGKILLed (the lease is
// not released) while ConfigMaps change, before and during the leaderless
// gap: every Deployment is rolled exactly once per change of its
// ConfigMap, none missed, none twice.
func TestFailoverRollsEachChangeOnce(t *testing.T) {
	requireCluster(t)
	res, err := Failover(context.Background(), cluster, FailoverOptions{
		Rate: 10, Pairs: 6, Kills: 2,
		Lease: LeaseTiming{LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second},
	}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) != 2 {
		t.Fatalf("%d rounds", len(res.Rounds))
	}
	if res.Missed != 0 || res.Double != 0 {
		for _, r := range res.Rounds {
			t.Logf("killed %s: rolls per Deployment %v", r.Killed, r.Rolls)
		}
		t.Errorf("%d rolls missed, %d doubled", res.Missed, res.Double)
	}
	// The load's failures, if any, are calls the API server made to the
	// killed replica before its endpoint was removed (reported, not
	// asserted: that window is the kubelet's to close).
	t.Log(res.Load)
	if res.Load.Wrong != 0 {
		t.Errorf("%d wrong answers: %v", res.Load.Wrong, res.Load.Samples)
	}
}

// TestAPIServerOutage: the replicas' API server is stopped for longer than
// the lease's renew deadline and started again. Through the other API
// server, admission goes on from the replicas' caches with no failure; no
// replica exits or goes unready; the leader steps down; afterwards the
// ConfigMap changed during the outage rolls its Deployment once, the other
// Deployment not at all, and new Deployments are stamped with the new hash
// once every replica's watch has caught up; none is denied meanwhile, and
// those a lagging replica stamped stale are re-stamped by the leader.
func TestAPIServerOutage(t *testing.T) {
	requireCluster(t)
	res, err := Outage(context.Background(), cluster, OutageOptions{
		Rate: 20, Outage: 8 * time.Second,
		Lease: LeaseTiming{LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second},
	}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("whole run: %s", res.Load)
	if res.DuringOutage.Sent < 50 || res.DuringOutage.Problems() != 0 {
		t.Errorf("during the outage: %s %v", res.DuringOutage, res.DuringOutage.Samples)
	}
	if res.Load.Problems() != 0 {
		t.Errorf("whole run: %s %v", res.Load, res.Load.Samples)
	}
	if res.Exited != 0 || res.Unready != 0 {
		t.Errorf("%d replicas exited, %d readiness failures", res.Exited, res.Unready)
	}
	if res.LeadersDuringOutage != 0 {
		t.Errorf("%d replicas still led without an API server", res.LeadersDuringOutage)
	}
	if res.Rolled != 1 || res.Untouched != 0 {
		t.Errorf("rolls: changed ConfigMap's Deployment %d (want 1), unchanged one's %d (want 0)", res.Rolled, res.Untouched)
	}
	t.Logf("every replica stamped the new hash %s after the roll (%d of %d Deployments created were stamped stale before; the restart controller re-stamped them all within %s)",
		res.CaughtUp.Round(time.Millisecond), res.StaleStamps, res.Stamps, res.Restamped.Round(time.Millisecond))
	if !res.Converged {
		t.Errorf("the replicas did not all stamp the new hash within the bound: %d of %d stamps stale", res.StaleStamps, res.Stamps)
	}
}

// TestOverloadAnswersOrRefuses: offered three times the replica's measured
// maximum throughput by a caller that, like an API server, keeps at most
// apiServerInFlight calls in flight, every review sent is answered within
// the webhook's time-out or refused with 429, none is dropped, broken or
// wrongly answered; the replica stays under the chart's memory limit
// (running with the GOMEMLIMIT and CPUs the chart gives it); afterwards its
// goroutines and live heap come back to where they were.
func TestOverloadAnswersOrRefuses(t *testing.T) {
	requireCluster(t)
	res, err := Overload(context.Background(), cluster, OverloadOptions{
		Stacks: testStacks, Factors: []float64{3}, Phase: 5 * time.Second, Clients: 32, Conns: apiServerInFlight,
	}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]DirectStats{res.Max}, res.Phases...) {
		if p.Late != 0 || p.Broken != 0 || p.Wrong != 0 {
			t.Errorf("%s", p)
		}
	}
	if res.PeakRSS >= res.MemoryLimit {
		t.Errorf("peak RSS %d bytes reached the chart's memory limit %d", res.PeakRSS, res.MemoryLimit)
	}
	if res.GoroutinesAfter > res.GoroutinesBefore+goroutineSlack {
		t.Errorf("goroutines %v after the load, %v before", res.GoroutinesAfter, res.GoroutinesBefore)
	}
	if res.HeapAfter > heapBound(res.HeapBefore) {
		t.Errorf("live heap %v bytes after the load, %v before", res.HeapAfter, res.HeapBefore)
	}
}
