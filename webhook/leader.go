package webhook

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// LeaseTiming is the leader election's timing, as client-go defines it. A
// replica that holds the lease renews it every RetryPeriod and gives it up
// when it could not renew for RenewDeadline; the others take it over once
// it has gone unrenewed for LeaseDuration. So after the leader dies without
// releasing it (SIGKILL, a lost node), another replica leads within
// LeaseDuration + RetryPeriod; after a clean stop (SIGTERM), within
// RetryPeriod, since the lease is released.
type LeaseTiming struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultLeaseTiming is controller-runtime's and kube-controller-manager's.
var DefaultLeaseTiming = LeaseTiming{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

func (t *LeaseTiming) defaults() {
	if t.LeaseDuration <= 0 {
		t.LeaseDuration = DefaultLeaseTiming.LeaseDuration
	}
	if t.RenewDeadline <= 0 {
		t.RenewDeadline = DefaultLeaseTiming.RenewDeadline
	}
	if t.RetryPeriod <= 0 {
		t.RetryPeriod = DefaultLeaseTiming.RetryPeriod
	}
}

var leaderGauge = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "gjallar_leader",
	Help: "1 while this replica holds the lease and runs the restart controller and the background audit.",
})

func init() { ctrlmetrics.Registry.MustRegister(leaderGauge) }

// leaderWork is what only the leader runs: started anew at the start of
// each term, it must return soon after its context ends.
type leaderWork func(ctx context.Context) error

// leaderTerms runs leader-only work under a Lease. It stands in for the
// manager's own leader election, which ends the process when the lease is
// lost: an API server that is unreachable for longer than RenewDeadline
// would then take the webhook server down with the restart controller,
// although admission can go on from the cache. Here losing the lease only
// ends the term: the work stops and the replica campaigns again.
//
// The lease is released only after the term's work has returned, so a
// successor never overlaps a predecessor that stopped cleanly.
type leaderTerms struct {
	Lock   resourcelock.Interface
	Timing LeaseTiming
	Work   []leaderWork
	Logger logr.Logger
}

func newLeaderTerms(cfg *rest.Config, namespace, name string, timing LeaseTiming, logger logr.Logger) (*leaderTerms, error) {
	timing.defaults()
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, namespace, name,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())}, cfg, timing.RenewDeadline)
	if err != nil {
		return nil, fmt.Errorf("leader election lock %s/%s: %w", namespace, name, err)
	}
	return &leaderTerms{Lock: lock, Timing: timing, Logger: logger}, nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: this is
// the leader election.
func (l *leaderTerms) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable: terms follow one another until ctx
// ends.
func (l *leaderTerms) Start(ctx context.Context) error {
	for ctx.Err() == nil {
		l.term(ctx)
	}
	return nil
}

// term campaigns, runs the work while the lease is held, and returns once
// the lease is lost or ctx ends, with the work stopped.
func (l *leaderTerms) term(ctx context.Context) {
	// The elector's context ends after the work has stopped, so that its
	// release of the lease (ReleaseOnCancel) comes last.
	electCtx, stopElecting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElecting()
	leading, workDone := make(chan struct{}), make(chan struct{})
	waitForWork := func() {
		select {
		case <-leading:
			<-workDone
		default:
		}
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            l.Lock,
		LeaseDuration:   l.Timing.LeaseDuration,
		RenewDeadline:   l.Timing.RenewDeadline,
		RetryPeriod:     l.Timing.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            l.Lock.Describe(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(termCtx context.Context) {
				close(leading)
				defer close(workDone)
				l.lead(termCtx, ctx)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		l.Logger.Error(err, "leader election")
		select {
		case <-ctx.Done():
		case <-time.After(l.Timing.RetryPeriod):
		}
		return
	}
	go func() {
		select {
		case <-electCtx.Done():
			return
		case <-ctx.Done():
		}
		waitForWork() // lead stops the work when ctx ends
		stopElecting()
	}()
	le.Run(electCtx)
	waitForWork()
}

// lead runs every piece of work until the term or the process ends.
func (l *leaderTerms) lead(termCtx, processCtx context.Context) {
	ctx, cancel := context.WithCancel(termCtx)
	defer cancel()
	stop := context.AfterFunc(processCtx, cancel)
	defer stop()
	leaderGauge.Set(1)
	defer leaderGauge.Set(0)
	l.Logger.Info("leading: running the restart controller and the background audit", "lease", l.Lock.Describe())
	var wg sync.WaitGroup
	for _, w := range l.Work {
		wg.Go(func() {
			if err := w(ctx); err != nil && ctx.Err() == nil {
				l.Logger.Error(err, "leader work stopped")
			}
		})
	}
	wg.Wait()
	l.Logger.Info("no longer leading")
}

// addLeaderWork runs works on the leader (every term), or always when
// leader election is off (one replica).
func addLeaderWork(mgr manager.Manager, cfg *rest.Config, o Options, logger logr.Logger, works []leaderWork) error {
	if !o.LeaderElect {
		for _, w := range works {
			if err := mgr.Add(manager.RunnableFunc(w)); err != nil {
				return err
			}
		}
		leaderGauge.Set(1)
		return nil
	}
	terms, err := newLeaderTerms(cfg, o.Namespace, o.LeaderElectName, o.Lease, logger.WithName("leader"))
	if err != nil {
		return err
	}
	terms.Work = works
	return mgr.Add(terms)
}
