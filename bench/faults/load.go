package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// Outcome is what one API request came to.
type Outcome string

const (
	// OK: the answer the object must get (admitted, or denied by the rule
	// it breaks, or admitted with the config hash stamped).
	OK Outcome = "ok"
	// Failed: the API server returned an error that is not the expected
	// denial (a webhook it could not call, a time-out, ...).
	Failed Outcome = "failed"
	// Wrong: admitted what must be denied, or the reverse, or stamped a
	// wrong hash.
	Wrong Outcome = "wrong"
	// Unstamped: admitted without the hash; the mutating webhook
	// (failurePolicy Ignore) could not be called, which the API server
	// does not report.
	Unstamped Outcome = "unstamped"
)

// Record is one request of the load.
type Record struct {
	Start   time.Time
	Latency time.Duration
	Request string // good-configmap, bad-configmap, deployment
	Outcome Outcome
	Detail  string // the error, for what did not go OK
}

// Load is admission load through the API server, as kubectl apply makes
// it: server-side dry-run creates (the webhooks are called; nothing is
// stored) of a good Bifrost ConfigMap, one with providers as a list (must
// be denied by bifrost-providers-map) and a Bifrost Deployment reading a
// ConfigMap (must be admitted with its config hash stamped), in turn, at a
// fixed rate whatever the answers (open loop).
type Load struct {
	Client    client.Client
	Namespace string
	Rate      float64

	configHash string
	refused    atomic.Int64 // 429 answers client-go retried
	seq        atomic.Int64
	mu         sync.Mutex
	records    []Record
}

// loadNamespace holds the load's ConfigMap and Secret.
const loadNamespace = "load"

// NewLoad prepares the load's namespace and makes a client through the API
// server that stays up (it counts the 429 answers client-go retries).
func NewLoad(ctx context.Context, c *Cluster, rate float64) (*Load, error) {
	l := &Load{Namespace: loadNamespace, Rate: rate}
	cfg := rest.CopyConfig(c.AdminConfig)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusTooManyRequests {
				l.refused.Add(1)
			}
			return resp, err
		})
	}
	var err error
	if l.Client, err = client.New(cfg, client.Options{Scheme: c.Admin.Scheme()}); err != nil {
		return nil, err
	}
	err = c.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: loadNamespace}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	cm := bifrostConfigMap("bifrost-config", loadNamespace, "glm-5")
	if err := c.Admin.Get(ctx, client.ObjectKeyFromObject(cm), cm); apierrors.IsNotFound(err) {
		if err := createWhenAdmitted(ctx, c.Admin, cm); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	l.configHash = HashOf(cm)
	return l, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createWhenAdmitted creates obj, retrying while no replica answers yet.
func createWhenAdmitted(ctx context.Context, c client.Client, obj client.Object) error {
	var err error
	for range 120 {
		if err = c.Create(ctx, obj); err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
}

// HashOf is the config hash of one ConfigMap, as gjallar computes it.
func HashOf(cm *corev1.ConfigMap) string {
	content, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	content["kind"], content["apiVersion"] = "ConfigMap", "v1"
	return rollout.ConfigHash([]*rules.Object{rules.NewObject(content)})
}

// StartLoad prepares a Load and runs it in the background; stop ends it
// and waits for the answers of the requests sent.
func StartLoad(ctx context.Context, c *Cluster, rate float64) (load *Load, stop func(), err error) {
	load, err = NewLoad(ctx, c, rate)
	if err != nil {
		return nil, nil, err
	}
	loadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { load.Run(loadCtx); close(done) }()
	return load, func() { cancel(); <-done }, nil
}

// Run sends requests until ctx ends, then waits for the answers.
func (l *Load) Run(ctx context.Context) {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / l.Rate)
	next := time.Now()
	for {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-time.After(wait):
			}
		} else if ctx.Err() != nil {
			wg.Wait()
			return
		}
		at := next
		wg.Go(func() { l.send(at) })
		next = next.Add(interval)
	}
}

// requestTimeout is the client's patience, above the webhook's 5s timeout
// and client-go's retries of a 429.
const requestTimeout = 30 * time.Second

func (l *Load) send(at time.Time) {
	n := l.seq.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	rec := Record{Start: at}
	switch n % 3 {
	case 0:
		rec.Request = "good-configmap"
		err := l.Client.Create(ctx, bifrostConfigMap(fmt.Sprintf("good-%d", n), l.Namespace, "glm-5"), client.DryRunAll)
		rec.Outcome, rec.Detail = classify(err, false, "")
	case 1:
		rec.Request = "bad-configmap"
		err := l.Client.Create(ctx, badConfigMap(fmt.Sprintf("bad-%d", n), l.Namespace), client.DryRunAll)
		rec.Outcome, rec.Detail = classify(err, true, "bifrost-providers-map")
	default:
		rec.Request = "deployment"
		d := bifrostDeployment(fmt.Sprintf("bifrost-%d", n), l.Namespace, "bifrost-config")
		err := l.Client.Create(ctx, d, client.DryRunAll)
		rec.Outcome, rec.Detail = classify(err, false, "")
		if rec.Outcome == OK {
			switch got := d.Spec.Template.Annotations[rollout.AnnotationConfigHash]; got {
			case l.configHash:
			case "":
				rec.Outcome, rec.Detail = Unstamped, "admitted without "+rollout.AnnotationConfigHash
			default:
				rec.Outcome, rec.Detail = Wrong, "stamped "+got+", want "+l.configHash
			}
		}
	}
	rec.Latency = time.Since(at)
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
}

func classify(err error, wantDenied bool, rule string) (Outcome, string) {
	denied := err != nil && strings.Contains(err.Error(), "denied the request") && !strings.Contains(err.Error(), "overloaded")
	switch {
	case err == nil && !wantDenied:
		return OK, ""
	case err == nil:
		return Wrong, "admitted; want denied by " + rule
	case denied && wantDenied && strings.Contains(err.Error(), rule):
		return OK, ""
	case denied:
		return Wrong, err.Error()
	}
	return Failed, err.Error()
}

// Stats summarises records.
type Stats struct {
	Sent, OK, Failed, Wrong, Unstamped int
	// Refused counts 429 answers (overload) that client-go retried; the
	// retry's outcome is in the other counts.
	Refused int64
	// Latency percentiles of all requests, milliseconds.
	P50, P99, Max float64
	// Samples are the first few problems, for the report.
	Samples []string
}

// Problems is every request that did not go OK.
func (s Stats) Problems() int { return s.Failed + s.Wrong + s.Unstamped }

func (s Stats) String() string {
	return fmt.Sprintf("sent %d, ok %d, failed %d, wrong %d, unstamped %d, 429s retried %d; p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		s.Sent, s.OK, s.Failed, s.Wrong, s.Unstamped, s.Refused, s.P50, s.P99, s.Max)
}

// Stats of every request so far.
func (l *Load) Stats() Stats {
	return l.StatsBetween(time.Time{}, time.Now().Add(time.Hour))
}

// StatsBetween covers the requests sent in [from, to).
func (l *Load) StatsBetween(from, to time.Time) Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Refused: l.refused.Load()}
	var lat []time.Duration
	for _, r := range l.records {
		if r.Start.Before(from) || !r.Start.Before(to) {
			continue
		}
		s.Sent++
		lat = append(lat, r.Latency)
		switch r.Outcome {
		case OK:
			s.OK++
		case Failed:
			s.Failed++
		case Wrong:
			s.Wrong++
		case Unstamped:
			s.Unstamped++
		}
		if r.Outcome != OK && len(s.Samples) < 5 {
			s.Samples = append(s.Samples, fmt.Sprintf("%s %s at %s: %s", r.Request, r.Outcome, r.Start.Format("15:04:05.000"), r.Detail))
		}
	}
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	s.P50, s.P99 = pct(0.5), pct(0.99)
	if len(lat) > 0 {
		s.Max = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	return s
}

// Records returns a copy of the records so far.
func (l *Load) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

func bifrostConfigMap(name, ns, model string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string]string{"config.json": fmt.Sprintf(
			`{"providers": {"openai": {"keys": [{"name": "k", "value": "env.OPENAI_KEY", "weight": 1, "models": [%q]}]}}}`, model)},
	}
}

func badConfigMap(name, ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data:       map[string]string{"config.json": `{"providers": [{"name": "openai", "keys": []}]}`},
	}
}

func bifrostDeployment(name, ns, configMap string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "bifrost", Image: "maximhq/bifrost:v1.3.9", Env: []corev1.EnvVar{
						{Name: "OPENAI_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
							LocalObjectReference: corev1.LocalObjectReference{Name: "openai"}, Key: "key"}}},
					}}},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}},
				},
			},
		},
	}
}
