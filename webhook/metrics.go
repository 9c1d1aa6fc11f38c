package webhook

import (
	"sync/atomic"

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
	ctrlmetrics.Registry.MustRegister(admissionRequests, admissionDuration, findingsTotal, restartsTotal, configReloads, servedCache)
}

// The cache's size, for sizing the memory limit (charts/gjallar/values.yaml).
var (
	cachedObjectsDesc = prometheus.NewDesc("gjallar_cached_objects",
		"Objects in the webhook's cache of the cluster, by kind.", []string{"kind"}, nil)
	cachedBytesDesc = prometheus.NewDesc("gjallar_cached_object_bytes",
		"Bytes of compact object content in the webhook's cache of the cluster, by kind (identity and index overhead not included).", []string{"kind"}, nil)
	decodedObjectsDesc = prometheus.NewDesc("gjallar_decoded_objects",
		"Cached objects kept decoded for reuse across requests (at most --decoded-objects).", nil, nil)
	objectDecodesDesc = prometheus.NewDesc("gjallar_object_decodes_total",
		"Cached objects decoded because they were not kept decoded; a steady climb under load means --decoded-objects is small for the objects requests look up.", nil, nil)
)

// servedCache reports the cache of the index Run serves from (one per
// process, however many indexes tests or embedders build).
var servedCache = &cacheMetrics{}

type cacheMetrics struct{ index atomic.Pointer[ClusterIndex] }

func (m *cacheMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cachedObjectsDesc, cachedBytesDesc, decodedObjectsDesc, objectDecodesDesc} {
		ch <- d
	}
}

func (m *cacheMetrics) Collect(ch chan<- prometheus.Metric) {
	idx := m.index.Load()
	if idx == nil {
		return
	}
	for gk, k := range idx.kinds {
		ch <- prometheus.MustNewConstMetric(cachedObjectsDesc, prometheus.GaugeValue, float64(k.objects.Load()), gk.Kind)
		ch <- prometheus.MustNewConstMetric(cachedBytesDesc, prometheus.GaugeValue, float64(k.bytes.Load()), gk.Kind)
	}
	held, decodes := idx.decoded.stats()
	ch <- prometheus.MustNewConstMetric(decodedObjectsDesc, prometheus.GaugeValue, float64(held))
	ch <- prometheus.MustNewConstMetric(objectDecodesDesc, prometheus.CounterValue, float64(decodes))
}
