package webhook

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// DefaultShutdownDelay is how long a stopping replica keeps answering after
// it stops being ready. When a pod is deleted, the kubelet sends SIGTERM
// while the endpoint controller, and then every API server's informer,
// learn the pod is going: until they do, API servers still send it calls.
// A few seconds is the usual propagation; 15s leaves room for a busy
// control plane. The chart's terminationGracePeriodSeconds covers it plus
// the requests in flight.
const DefaultShutdownDelay = 15 * time.Second

// drainer stops a replica the way a rolling restart needs: when the
// process is told to stop, readiness fails first, the server keeps
// answering for the delay with every answer closing its connection (so
// callers' keep-alive connections move to the replicas still ready), and
// only then does the manager stop, which lets the requests in flight
// finish (admissionServer.Start) before the process exits.
type drainer struct {
	delay    time.Duration
	server   *admissionServer
	logger   logr.Logger
	draining atomic.Bool
}

// readyCheck is a readiness check that fails once draining.
func (d *drainer) readyCheck(*http.Request) error {
	if d.draining.Load() {
		return errors.New("shutting down")
	}
	return nil
}

// managerContext returns the context to run the manager with: it ends
// the delay after stop ends (at once if the server never started, since
// then nothing routes to it), or when cancelled.
func (d *drainer) managerContext(stop context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(stop))
	go func() {
		select {
		case <-stop.Done():
		case <-ctx.Done():
			return
		}
		d.draining.Store(true)
		if !d.server.started.Load() || d.delay <= 0 {
			cancel()
			return
		}
		d.server.drain()
		d.logger.Info("stopping: not ready any more, answering until endpoints are updated", "delay", d.delay.String())
		t := time.NewTimer(d.delay)
		defer t.Stop()
		select {
		case <-t.C:
			d.logger.Info("stopping: drain period over; finishing the requests in flight")
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}
