package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are registered with controller-runtime's registry, so they are
// served on the manager's metrics endpoint next to its own.
var (
	admissionRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_admission_requests_total",
		Help: "Admission requests by webhook (validate, mutate), operation and decision (allowed, denied, patched, invalid request, error).",
	}, []string{"webhook", "operation", "decision"})
	admissionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gjallar_admission_duration_seconds",
		Help:    "Time to answer an admission request, by webhook.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"webhook"})
	findingsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_findings_total",
		Help: "Findings reported at admission, by rule and severity.",
	}, []string{"rule", "severity"})
	restartsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_restarts_total",
		Help: "Workloads whose pods the restart controller rolled by updating gjallar.dev/config-hash, by kind.",
	}, []string{"kind"})
	configReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gjallar_config_reloads_total",
		Help: "Reloads of the mounted configuration, by result (ok, error).",
	}, []string{"result"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(admissionRequests, admissionDuration, findingsTotal, restartsTotal, configReloads)
}
