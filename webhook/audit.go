package webhook

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/rules"
)

// AuditOptions configures the background audit: the leader evaluates the
// cluster cache with the admission engine and keeps PolicyReports of what
// it finds.
type AuditOptions struct {
	// Interval between full passes; 0 turns the background audit off.
	Interval time.Duration
	// Settle is how long the cache must stay unchanged after a change
	// before a pass runs (default 5s), and MinGap the least time between
	// two passes a change causes (default 30s): a cluster that never stops
	// changing is audited twice a minute at most, not continuously.
	Settle, MinGap time.Duration
	// ReportAPI is the API the reports are written in (default
	// wgpolicyk8s.io/v1alpha2).
	ReportAPI audit.ReportAPI
	// WritesPerSecond bounds report writes (default 5, bursts of 10).
	WritesPerSecond float64
}

var (
	auditFindings = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gjallar_audit_findings",
		Help: "Findings of the latest background audit, by namespace (empty for cluster-scoped objects), rule and severity.",
	}, []string{"namespace", "rule", "severity"})
	auditDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gjallar_audit_duration_seconds",
		Help:    "Time of a background audit pass, by phase: evaluate (the rules over the cache) and write (syncing the reports).",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"phase"})
	auditObjects = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gjallar_audit_objects",
		Help: "Objects the latest background audit checked.",
	})
	auditReportWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_audit_report_writes_total",
		Help: "Report writes of the background audit, by operation (create, update, delete) and result (ok, error).",
	}, []string{"operation", "result"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(auditFindings, auditDuration, auditObjects, auditReportWrites)
}

// BackgroundAudit is the leader's audit of the cluster cache. It runs on
// start, every Interval, and soon after cached objects change, on one
// goroutine of its own, so admission requests never wait for it.
type BackgroundAudit struct {
	Index   *ClusterIndex
	Engines *EngineHolder
	Writer  *audit.ReportWriter
	// Cache is waited for before the first pass, and tells of changes.
	Cache cache.Cache
	// ExcludedNamespaces are not audited, as the webhooks skip them;
	// namespaces labelled gjallar.dev/ignore=true neither.
	ExcludedNamespaces []string
	Options            AuditOptions

	changed chan struct{}
}

// newBackgroundAudit makes the background audit, which the leader runs
// (leader.go), or nil when the interval is 0.
func newBackgroundAudit(ctx context.Context, mgr ctrl.Manager, o Options, index *ClusterIndex, holder *EngineHolder) (*BackgroundAudit, error) {
	if o.Audit.Interval <= 0 {
		return nil, nil
	}
	ao := o.Audit
	if ao.ReportAPI == "" {
		ao.ReportAPI = audit.WGPolicy
	}
	if ao.WritesPerSecond <= 0 {
		ao.WritesPerSecond = 5
	}
	b := &BackgroundAudit{
		Index: index, Engines: holder, Cache: mgr.GetCache(), Options: ao,
		ExcludedNamespaces: append([]string{"kube-system", o.Namespace}, o.ExcludedNamespaces...),
		Writer: &audit.ReportWriter{
			Client: mgr.GetClient(), API: ao.ReportAPI,
			Limiter: rate.NewLimiter(rate.Limit(ao.WritesPerSecond), 10),
			Observe: func(op string, err error) {
				result := "ok"
				if err != nil {
					result = "error"
				}
				auditReportWrites.WithLabelValues(op, result).Inc()
			},
		},
	}
	if err := b.watch(); err != nil {
		return nil, err
	}
	return b, nil
}

// watch asks the index to tell of changes that can change a finding: a
// new, deleted or respecified object, not a status update.
func (b *BackgroundAudit) watch() error {
	b.changed = make(chan struct{}, 1)
	return b.Index.OnChange(func() {
		select {
		case b.changed <- struct{}{}:
		default:
		}
	})
}

// Start implements manager.Runnable.
func (b *BackgroundAudit) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("gjallar-audit")
	if !b.Cache.WaitForCacheSync(ctx) {
		return nil // stopping
	}
	settle, minGap := b.Options.Settle, b.Options.MinGap
	if settle <= 0 {
		settle = 5 * time.Second
	}
	if minGap <= 0 {
		minGap = 30 * time.Second
	}
	ticker := time.NewTicker(b.Options.Interval)
	defer ticker.Stop()
	reportedMissingAPI := false
	var last time.Time
	for {
		err := b.Pass(ctx)
		last = time.Now()
		switch {
		case errors.Is(err, audit.ErrNoReportAPI):
			if !reportedMissingAPI {
				logger.Error(err, "cannot write the audit's reports; findings are still counted in gjallar_audit_findings", "api", b.Options.ReportAPI)
				reportedMissingAPI = true
			}
		case err != nil:
			logger.Error(err, "background audit pass")
		default:
			reportedMissingAPI = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-b.changed:
			if !b.settle(ctx, settle, last.Add(minGap)) {
				return nil
			}
		}
	}
}

// settle waits until the cache has been quiet for settle and notBefore
// has passed; false when stopping.
func (b *BackgroundAudit) settle(ctx context.Context, settle time.Duration, notBefore time.Time) bool {
	quiet := time.NewTimer(settle)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-b.changed:
			quiet.Reset(settle)
		case <-quiet.C:
			if wait := time.Until(notBefore); wait > 0 {
				quiet.Reset(wait)
				continue
			}
			return true
		}
	}
}

// Pass evaluates every cached object outside the excluded namespaces with
// the current engine, on this goroutine alone, and syncs the reports.
func (b *BackgroundAudit) Pass(ctx context.Context) error {
	start := time.Now()
	// Objects are fetched one at a time while they are checked: listing
	// them all first would decode the whole compact cache at once (about
	// 550 MiB at 100,000 objects, BENCHMARKS.md section 10).
	type ref struct {
		gk schema.GroupKind
		types.NamespacedName
	}
	var refs []ref
	for _, gk := range b.Index.Kinds() {
		for _, r := range b.Index.Refs(gk) {
			if !slices.Contains(b.ExcludedNamespaces, r.Namespace) {
				refs = append(refs, ref{gk, r})
			}
		}
	}
	var checked atomic.Int64
	findings := audit.EvaluateEach(b.Engines.Load(), b.Index, len(refs), func(i int) *rules.Object {
		o := b.Index.Get(refs[i].gk, refs[i].Namespace, refs[i].Name)
		if o == nil || !audit.Checked(b.Index, o) {
			return nil // deleted since, or not the audit's
		}
		checked.Add(1)
		return o
	}, false, 1)
	auditDuration.WithLabelValues("evaluate").Observe(time.Since(start).Seconds())
	auditObjects.Set(float64(checked.Load()))
	auditFindings.Reset()
	for _, f := range findings {
		auditFindings.WithLabelValues(f.Object.Namespace, f.Rule, f.Severity.String()).Inc()
	}
	start = time.Now()
	_, err := b.Writer.Sync(ctx, findings)
	auditDuration.WithLabelValues("write").Observe(time.Since(start).Seconds())
	return err
}
