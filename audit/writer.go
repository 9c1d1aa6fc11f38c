package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReportWriter keeps gjallar's reports in the cluster equal to the latest
// audit's findings: it creates the reports of namespaces with findings,
// updates one only when its results changed, and deletes those of
// namespaces that are clean now. It touches only reports labelled as
// gjallar's.
type ReportWriter struct {
	// Client reads and writes reports; reports are not cached, so reads
	// go to the API server.
	Client client.Client
	API    ReportAPI
	// Limiter paces the writes (nil: unpaced), so that a first audit of a
	// large cluster does not flood the API server.
	Limiter *rate.Limiter
	// Observe, if set, is told about each write: create, update or delete,
	// and its error.
	Observe func(op string, err error)
	// Now is the clock results are stamped with (default time.Now).
	Now func() time.Time
}

// SyncStats counts what one Sync did.
type SyncStats struct {
	Created, Updated, Deleted, Unchanged int
}

// ErrNoReportAPI means the cluster does not serve the report kinds: their
// CRD is not installed.
var ErrNoReportAPI = errors.New("the report API is not served (is its CRD installed?)")

// Sync writes the reports for findings. Every write is attempted; the
// errors are joined.
func (w *ReportWriter) Sync(ctx context.Context, findings []Finding) (SyncStats, error) {
	var stats SyncStats
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	desired, err := Reports(w.API, findings, now())
	if err != nil {
		return stats, err
	}
	existing, err := w.existing(ctx)
	if err != nil {
		return stats, err
	}
	var errs []error
	for _, d := range desired {
		key := d.GetNamespace() + "/" + d.GetName()
		e, ok := existing[key]
		delete(existing, key)
		if !ok {
			errs = append(errs, w.write(ctx, "create", func() error { return w.Client.Create(ctx, d) }))
			stats.Created++
			continue
		}
		keepTimestamps(d, e)
		if sameBody(d, e) {
			stats.Unchanged++
			continue
		}
		for _, field := range []string{"results", "summary", "source"} {
			if v, ok := d.Object[field]; ok {
				e.Object[field] = v
			} else {
				delete(e.Object, field)
			}
		}
		errs = append(errs, w.write(ctx, "update", func() error { return w.Client.Update(ctx, e) }))
		stats.Updated++
	}
	for _, e := range existing {
		errs = append(errs, w.write(ctx, "delete", func() error { return client.IgnoreNotFound(w.Client.Delete(ctx, e)) }))
		stats.Deleted++
	}
	return stats, errors.Join(errs...)
}

func (w *ReportWriter) write(ctx context.Context, op string, do func() error) error {
	if w.Limiter != nil {
		if err := w.Limiter.Wait(ctx); err != nil {
			return err
		}
	}
	err := do()
	if w.Observe != nil {
		w.Observe(op, err)
	}
	if err != nil {
		return fmt.Errorf("%s report: %w", op, err)
	}
	return nil
}

// existing lists gjallar's reports, namespaced and cluster-scoped, by
// namespace/name.
func (w *ReportWriter) existing(ctx context.Context) (map[string]*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(string(w.API))
	if err != nil {
		return nil, err
	}
	out := map[string]*unstructured.Unstructured{}
	nsKind, clusterKind := w.API.Kinds()
	for _, kind := range []string{nsKind, clusterKind} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gv.WithKind(kind + "List"))
		if err := w.Client.List(ctx, list, client.MatchingLabels{ManagedByLabel: Source}); err != nil {
			if meta.IsNoMatchError(err) {
				return nil, fmt.Errorf("%w: %v", ErrNoReportAPI, err)
			}
			return nil, fmt.Errorf("listing %s: %w", kind, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			out[u.GetNamespace()+"/"+u.GetName()] = u
		}
	}
	return out, nil
}

// resultKey identifies a result across audits: the same rule saying the
// same thing about the same field of the same object.
func resultKey(r map[string]any) string {
	res, _ := r["resources"].([]any)
	props, _ := r["properties"].(map[string]any)
	key, _ := json.Marshal([]any{r["policy"], r["result"], r["message"], res, props})
	return string(key)
}

// keepTimestamps gives each result of d that e already holds e's
// timestamp, so a result says when it was first found and an unchanged
// report compares equal.
func keepTimestamps(d, e *unstructured.Unstructured) {
	old := map[string]any{}
	eResults, _, _ := unstructured.NestedSlice(e.Object, "results")
	for _, r := range eResults {
		if m, ok := r.(map[string]any); ok {
			old[resultKey(m)] = m["timestamp"]
		}
	}
	dResults, _, _ := unstructured.NestedSlice(d.Object, "results")
	for _, r := range dResults {
		if m, ok := r.(map[string]any); ok {
			if ts, ok := old[resultKey(m)]; ok {
				m["timestamp"] = ts
			}
		}
	}
	if dResults != nil {
		d.Object["results"] = dResults
	}
}

// sameBody compares what gjallar writes in a report; JSON evens out the
// number types of a decoded object and a built one.
func sameBody(d, e *unstructured.Unstructured) bool {
	body := func(u *unstructured.Unstructured) string {
		b, _ := json.Marshal([]any{u.Object["results"], u.Object["summary"], u.Object["source"]})
		return string(b)
	}
	return body(d) == body(e)
}
