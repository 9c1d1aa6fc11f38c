package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// LeaseTiming is the replicas' --leader-election-* flags.
type LeaseTiming struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (l LeaseTiming) args() []string {
	return []string{
		"--leader-election-lease-duration", l.LeaseDuration.String(),
		"--leader-election-renew-deadline", l.RenewDeadline.String(),
		"--leader-election-retry-period", l.RetryPeriod.String(),
	}
}

// FailoverOptions sizes the failover scenario.
type FailoverOptions struct {
	Rate  float64 // API requests per second alongside
	Pairs int     // ConfigMaps, each read by one Deployment
	Kills int     // rounds, each killing the leader
	Lease LeaseTiming
}

// FailoverRound is one kill of the leader.
type FailoverRound struct {
	Killed string
	// Changes is how many ConfigMaps changed, before and after the kill.
	Changes int
	// Rolls counts each Deployment's generation increase: each must be 1.
	Rolls map[int]int
	// Settled is how long after the kill every Deployment carried its
	// ConfigMap's hash.
	Settled time.Duration
}

// FailoverResult is what the scenario measured.
type FailoverResult struct {
	Rounds []FailoverRound
	// Missed and Double count Deployments rolled 0 or more than 1 time for
	// one change, over all rounds.
	Missed, Double int
	Load           Stats
}

// Failover runs two replicas, Pairs ConfigMap/Deployment pairs and the
// load, then, Kills times: changes half the ConfigMaps, SIGKILLs the leader
// (no release of the lease), changes the other half while no replica
// leads, starts a replacement, and waits until every Deployment carries its
// ConfigMap's new hash. Each ConfigMap changes once per round, so each
// Deployment must be rolled exactly once per round.
func Failover(ctx context.Context, c *Cluster, o FailoverOptions, logf func(string, ...any)) (*FailoverResult, error) {
	args := append([]string{"--shutdown-delay", "0s"}, o.Lease.args()...)
	set := &replicaSet{c: c, prefix: "failover", args: args}
	defer set.killRunning()
	live := []*Replica{}
	for range 2 {
		r, err := set.startReady(ctx)
		if err != nil {
			return nil, err
		}
		live = append(live, r)
	}
	ns := fmt.Sprintf("failover-%d", time.Now().Unix())
	if err := setupPairs(ctx, c, ns, o.Pairs); err != nil {
		return nil, err
	}
	gens, err := generations(ctx, c, ns, o.Pairs)
	if err != nil {
		return nil, err
	}
	load, stopLoad, err := StartLoad(ctx, c, o.Rate)
	if err != nil {
		return nil, err
	}
	defer stopLoad()

	res := &FailoverResult{}
	for round := 1; round <= o.Kills; round++ {
		leader, err := waitLeader(live, 3*o.Lease.LeaseDuration+30*time.Second)
		if err != nil {
			return nil, err
		}
		half := o.Pairs / 2
		if err := changeConfigs(ctx, c, ns, 0, half, round); err != nil {
			return nil, err
		}
		killedAt := time.Now()
		leader.Kill()
		// The other half changes while no replica leads.
		if err := changeConfigs(ctx, c, ns, half, o.Pairs, round); err != nil {
			return nil, err
		}
		var rest []*Replica
		for _, r := range live {
			if r != leader {
				rest = append(rest, r)
			}
		}
		repl, err := set.startReady(ctx)
		if err != nil {
			return nil, err
		}
		live = append(rest, repl)
		if err := waitRolled(ctx, c, ns, o.Pairs, 3*o.Lease.LeaseDuration+60*time.Second); err != nil {
			return nil, err
		}
		fr := FailoverRound{Killed: leader.Name, Changes: o.Pairs, Settled: time.Since(killedAt), Rolls: map[int]int{}}
		// A roll in flight when the round settled would show here: look
		// again after a while for any that came late.
		sleep(ctx, o.Lease.RetryPeriod+2*time.Second)
		now, err := generations(ctx, c, ns, o.Pairs)
		if err != nil {
			return nil, err
		}
		for i := range o.Pairs {
			rolls := int(now[i] - gens[i])
			fr.Rolls[i] = rolls
			switch {
			case rolls < 1:
				res.Missed++
			case rolls > 1:
				res.Double++
			}
		}
		gens = now
		res.Rounds = append(res.Rounds, fr)
		logf("round %d: killed leader %s; %d ConfigMaps changed; every Deployment rolled %s after the kill; missed %d, doubled %d so far; %s",
			round, leader.Name, o.Pairs, fr.Settled.Round(time.Millisecond), res.Missed, res.Double, load.Stats())
	}
	stopLoad()
	res.Load = load.Stats()
	return res, nil
}

// waitLeader returns the replica holding the lease.
func waitLeader(replicas []*Replica, timeout time.Duration) (*Replica, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range replicas {
			if r.Metric("gjallar_leader") == 1 {
				return r, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, errors.New("no replica became leader")
}

func pairNames(i int) (string, string) {
	return fmt.Sprintf("config-%03d", i), fmt.Sprintf("bifrost-%03d", i)
}

// setupPairs creates the ConfigMaps and Deployments; each Deployment must
// come out stamped (the mutating webhook), else the controller would not
// roll it.
func setupPairs(ctx context.Context, c *Cluster, ns string, pairs int) error {
	err := c.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for i := range pairs {
		cmName, dName := pairNames(i)
		cm := bifrostConfigMap(cmName, ns, "model-0")
		if err := createWhenAdmitted(ctx, c.Admin, cm); err != nil {
			return err
		}
		d := bifrostDeployment(dName, ns, cmName)
		if err := createWhenAdmitted(ctx, c.Admin, d); err != nil {
			return err
		}
		if got, want := d.Spec.Template.Annotations[rollout.AnnotationConfigHash], HashOf(cm); got != want {
			return fmt.Errorf("Deployment %s created with hash %q, want %q", dName, got, want)
		}
	}
	return nil
}

func changeConfigs(ctx context.Context, c *Cluster, ns string, from, to, round int) error {
	for i := from; i < to; i++ {
		name, _ := pairNames(i)
		var cm corev1.ConfigMap
		if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			return err
		}
		cm.Data = bifrostConfigMap(name, ns, fmt.Sprintf("model-%d", round)).Data
		if err := updateWhenAdmitted(ctx, c.Admin, &cm); err != nil {
			return err
		}
	}
	return nil
}

// updateWhenAdmitted retries an update the webhook could not be called
// for (the killed leader's endpoint, until it is removed).
func updateWhenAdmitted(ctx context.Context, c client.Client, obj client.Object) error {
	var err error
	for range 40 {
		if err = c.Update(ctx, obj); err == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("updating %s: %w", obj.GetName(), err)
}

func generations(ctx context.Context, c *Cluster, ns string, pairs int) (map[int]int64, error) {
	out := map[int]int64{}
	for i := range pairs {
		_, dName := pairNames(i)
		var d appsv1.Deployment
		if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: dName}, &d); err != nil {
			return nil, err
		}
		out[i] = d.Generation
	}
	return out, nil
}

// waitRolled waits until every Deployment carries its ConfigMap's hash.
func waitRolled(ctx context.Context, c *Cluster, ns string, pairs int, timeout time.Duration) error {
	return waitRolledRange(ctx, c, ns, 0, pairs, timeout)
}

// waitRolledRange waits until the Deployments of pairs [from, to) carry
// their ConfigMaps' hashes.
func waitRolledRange(ctx context.Context, c *Cluster, ns string, from, to int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		stale := 0
		for i := from; i < to; i++ {
			cmName, dName := pairNames(i)
			var cm corev1.ConfigMap
			var d appsv1.Deployment
			if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: cmName}, &cm); err != nil {
				return err
			}
			if err := c.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: dName}, &d); err != nil {
				return err
			}
			if d.Spec.Template.Annotations[rollout.AnnotationConfigHash] != HashOf(&cm) {
				stale++
			}
		}
		if stale == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d Deployments still carry a stale hash after %s", stale, to-from, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
