package faults

import (
	"context"
	"time"
)

// RollingOptions sizes the rolling-restart scenario.
type RollingOptions struct {
	Rate float64 // API requests per second
	// ShutdownDelay is the replicas' --shutdown-delay.
	ShutdownDelay time.Duration
	// Settle is the load before, between and after the restarts.
	Settle time.Duration
	// Rounds of restarting both replicas one after the other.
	Rounds int
}

// RollingResult is what the scenario measured.
type RollingResult struct {
	Load  Stats
	Exits []Exit
	// Grace is the termination grace period the replicas got (the chart's
	// formula: delay + webhook timeout + 10s).
	Grace time.Duration
}

// RollingRestart runs two replicas under steady admission load and
// restarts them one at a time, as a Deployment's rolling update does: the
// old pod is deleted (endpoint terminating and SIGTERM together), and once
// it has exited a new one starts and must be ready before the next.
func RollingRestart(ctx context.Context, c *Cluster, o RollingOptions, logf func(string, ...any)) (*RollingResult, error) {
	res := &RollingResult{Grace: o.ShutdownDelay + 5*time.Second + 10*time.Second}
	args := []string{"--shutdown-delay", o.ShutdownDelay.String(), "--shutdown-timeout", "5s"}
	set := &replicaSet{c: c, prefix: "rolling", args: args}
	defer set.killRunning()
	current := make([]*Replica, 2)
	for i := range current {
		r, err := set.startReady(ctx)
		if err != nil {
			return nil, err
		}
		current[i] = r
	}
	load, stopLoad, err := StartLoad(ctx, c, o.Rate)
	if err != nil {
		return nil, err
	}
	sleep(ctx, o.Settle)
	for round := range o.Rounds {
		for i, old := range current {
			exit := old.Terminate(res.Grace)
			res.Exits = append(res.Exits, exit)
			logf("round %d: %s exited with %d after %s (killed: %v); %s", round+1, old.Name, exit.Code, exit.After.Round(time.Millisecond), exit.Killed, load.Stats())
			r, err := set.startReady(ctx)
			if err != nil {
				stopLoad()
				return nil, err
			}
			current[i] = r
			sleep(ctx, o.Settle)
		}
	}
	stopLoad()
	res.Load = load.Stats()
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
