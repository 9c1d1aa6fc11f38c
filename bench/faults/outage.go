package faults

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// OutageOptions sizes the API server outage scenario.
type OutageOptions struct {
	Rate float64
	// Outage is how long the replicas' API server stays down; longer than
	// the lease's renew deadline, so the leader loses the lease.
	Outage time.Duration
	Lease  LeaseTiming
}

// StampsInARow is how many dry-run creates in a row, each sent to either
// replica, must carry the new hash for the replicas to count as caught up.
const StampsInARow = 20

// catchUpBound bounds the wait for every replica to see the change made
// during the outage: client-go's reflector backs off up to 30 s between
// list attempts, and a relist follows.
const catchUpBound = 60 * time.Second

// OutageResult is what the scenario measured.
type OutageResult struct {
	// Load covers everything; DuringOutage the requests sent while the
	// replicas' API server was down (they reach gjallar through the other
	// API server, and gjallar answers from its cache).
	Load, DuringOutage Stats
	// Exited and Unready count replicas that exited, and readiness
	// failures, over the whole scenario.
	Exited, Unready int
	// LeadersDuringOutage is how many replicas still led at the end of the
	// outage (the lease cannot be renewed: 0).
	LeadersDuringOutage int
	// Rolled is the generation increase of the Deployment whose ConfigMap
	// changed during the outage (want 1); Untouched that of one whose
	// ConfigMap did not (want 0).
	Rolled, Untouched int64
	// StaleStamps counts Deployments created after the roll that
	// were stamped with the ConfigMap's old hash, or none, out of Stamps:
	// a replica whose watch broke catches up when client-go's reflector
	// next relists, which its backoff may put seconds after the API server
	// returned. CaughtUp is how long after the roll every replica stamped
	// the new hash (StampsInARow creates in a row); Converged is false if
	// that never happened within the scenario's bound.
	StaleStamps, Stamps int
	CaughtUp            time.Duration
	Converged           bool
	// Restamped is how long after CaughtUp every Deployment stamped stale
	// carried the new hash: the leader's restart controller re-stamps it.
	Restamped time.Duration
	// Resynced is how long after the API server's return the changed
	// ConfigMap's Deployment was rolled.
	Resynced time.Duration
}

// Outage runs two replicas and the load (through the second API server),
// stops the API server the replicas use, changes a ConfigMap through the
// other one meanwhile, and starts it again.
func Outage(ctx context.Context, c *Cluster, o OutageOptions, logf func(string, ...any)) (*OutageResult, error) {
	args := append([]string{"--shutdown-delay", "0s"}, o.Lease.args()...)
	set := &replicaSet{c: c, prefix: "outage", args: args}
	defer set.killRunning()
	for range 2 {
		if _, err := set.startReady(ctx); err != nil {
			return nil, err
		}
	}
	ns := fmt.Sprintf("outage-%d", time.Now().Unix())
	if err := setupPairs(ctx, c, ns, 2); err != nil {
		return nil, err
	}
	replicas := set.all
	if _, err := waitLeader(replicas, 3*o.Lease.LeaseDuration+30*time.Second); err != nil {
		return nil, err
	}
	before, err := generations(ctx, c, ns, 2)
	if err != nil {
		return nil, err
	}
	load, stopLoad, err := StartLoad(ctx, c, o.Rate)
	if err != nil {
		return nil, err
	}
	defer stopLoad()
	sleep(ctx, 2*time.Second)

	res := &OutageResult{}
	down := time.Now()
	if err := c.StopFirstAPIServer(); err != nil {
		return nil, fmt.Errorf("stopping the API server: %w", err)
	}
	logf("API server stopped; %s", load.Stats())
	if err := changeConfigs(ctx, c, ns, 0, 1, 1); err != nil {
		return nil, err
	}
	sleep(ctx, o.Outage)
	for _, r := range replicas {
		if r.Metric("gjallar_leader") == 1 {
			res.LeadersDuringOutage++
		}
	}
	up := time.Now()
	if err := c.StartFirstAPIServer(); err != nil {
		return nil, fmt.Errorf("starting the API server again: %w", err)
	}
	res.DuringOutage = load.StatsBetween(down, up)
	logf("API server back after %s; during the outage: %s", up.Sub(down).Round(time.Millisecond), res.DuringOutage)
	if err := waitRolledPair(ctx, c, ns, 0, 3*o.Lease.LeaseDuration+90*time.Second); err != nil {
		return nil, err
	}
	res.Resynced = time.Since(up)
	logf("the ConfigMap changed during the outage rolled its Deployment %s after the API server returned", res.Resynced.Round(time.Millisecond))
	sleep(ctx, o.Lease.RetryPeriod+2*time.Second)
	after, err := generations(ctx, c, ns, 2)
	if err != nil {
		return nil, err
	}
	res.Rolled, res.Untouched = after[0]-before[0], after[1]-before[1]

	// What the replicas' caches say now: a Deployment reading the changed
	// ConfigMap, created after the outage, is stamped with its new hash.
	cmName, _ := pairNames(0)
	var cm corev1.ConfigMap
	if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: cmName}, &cm); err != nil {
		return nil, err
	}
	want := HashOf(&cm)
	rolled, inARow := time.Now(), 0
	var stale []string
	for i := 0; inARow < StampsInARow && time.Since(rolled) < catchUpBound; i++ {
		d := bifrostDeployment(fmt.Sprintf("after-%d", i), ns, cmName)
		if err := c.Admin.Create(ctx, d); err != nil {
			return nil, fmt.Errorf("creating a Deployment after the outage: %w", err)
		}
		res.Stamps++
		inARow++
		if d.Spec.Template.Annotations[rollout.AnnotationConfigHash] != want {
			stale = append(stale, d.Name)
			inARow = 0
			sleep(ctx, 100*time.Millisecond)
		}
	}
	res.StaleStamps = len(stale)
	res.Converged, res.CaughtUp = inARow >= StampsInARow, time.Since(rolled)
	// The leader's restart controller re-stamps what a lagging replica
	// stamped stale.
	caughtUp := time.Now()
	if err := waitStamped(ctx, c, ns, stale, want, catchUpBound); err != nil {
		return nil, err
	}
	res.Restamped = time.Since(caughtUp)
	stopLoad()
	res.Load = load.Stats()
	for _, r := range replicas {
		if !r.Alive() {
			res.Exited++
		}
		res.Unready += r.Unready()
	}
	return res, nil
}

// waitRolledPair waits until pair i's Deployment carries its ConfigMap's
// hash.
func waitRolledPair(ctx context.Context, c *Cluster, ns string, i int, timeout time.Duration) error {
	return waitRolledRange(ctx, c, ns, i, i+1, timeout)
}

// waitStamped waits until each named Deployment carries hash.
func waitStamped(ctx context.Context, c *Cluster, ns string, names []string, hash string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(names) > 0 {
		var d appsv1.Deployment
		if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: names[0]}, &d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations[rollout.AnnotationConfigHash] == hash {
			names = names[1:]
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Deployment %s/%s still carries a stale hash after %s (and %d more may)", ns, names[0], timeout, len(names)-1)
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return nil
}
