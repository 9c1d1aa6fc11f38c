package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gjallar-dev/gjallar/rules"
)

// Unread is a kind the audit did not read, whole or in part.
type Unread struct {
	Kind     schema.GroupKind `json:"kind"`
	Resource string           `json:"resource"`
	// Namespace is where the list was refused or failed; "" for all
	// namespaces (or a cluster-scoped kind).
	Namespace string `json:"namespace,omitempty"`
	Verb      string `json:"verb"`
	// Forbidden is set when RBAC refused the list: the audit went on
	// around it. Otherwise the API server kept failing and the audit is
	// incomplete.
	Forbidden bool   `json:"forbidden"`
	Reason    string `json:"reason"`
}

func (u Unread) where() string {
	if u.Namespace == "" {
		return "in all namespaces"
	}
	return "in namespace " + u.Namespace
}

// Message says what was not read and what it means for the findings.
func (u Unread) Message() string {
	if u.Forbidden {
		return fmt.Sprintf("may not %s %s (%s) %s: %s; rules that need them say they could not judge",
			u.Verb, u.Resource, u.Kind, u.where(), u.Reason)
	}
	return fmt.Sprintf("could not %s %s (%s) %s: %s; the audit is incomplete and their objects went unchecked",
		u.Verb, u.Resource, u.Kind, u.where(), u.Reason)
}

// lister reads the kinds the rules need from the API server: one paged
// LIST per kind and scope, retried while the server fails, refused lists
// recorded rather than fatal.
type lister struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	pageSize  int64
	retryFor  time.Duration
	requests  *atomic.Int64
}

// countingTransport counts the requests sent to the API server, for the
// summary and the benchmark.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func newLister(cfg *rest.Config, pageSize int64, retryFor time.Duration) (*lister, error) {
	cfg = rest.CopyConfig(cfg)
	requests := &atomic.Int64{}
	wrap := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if wrap != nil {
			rt = wrap(rt)
		}
		return countingTransport{next: rt, n: requests}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &lister{dynamic: dyn, discovery: dc, pageSize: pageSize, retryFor: retryFor, requests: requests}, nil
}

// served is how the API server serves a kind.
type served struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// discover maps each wanted kind to the resource the API server prefers
// for it. A kind the server does not serve is left out (nothing of it can
// exist); a kind whose API group failed discovery is returned as unread.
func (l *lister) discover(ctx context.Context, kinds []schema.GroupKind) (map[schema.GroupKind]served, []Unread, error) {
	var lists []*metav1.APIResourceList
	var failed map[schema.GroupVersion]error
	err := l.retry(ctx, func() error {
		var err error
		lists, err = l.discovery.ServerPreferredResources()
		var gdf *discovery.ErrGroupDiscoveryFailed
		if errors.As(err, &gdf) {
			failed = gdf.Groups
			return nil // what was discovered is usable; the rest is reported
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("discovering the API server's resources: %w", err)
	}
	want := map[schema.GroupKind]bool{}
	for _, gk := range kinds {
		want[gk] = true
	}
	out := map[schema.GroupKind]served{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			if !want[gk] || strings.Contains(r.Name, "/") {
				continue // not wanted, or a subresource
			}
			out[gk] = served{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced}
		}
	}
	var unread []Unread
	for gv, cause := range failed {
		for _, gk := range kinds {
			if _, ok := out[gk]; !ok && gk.Group == gv.Group {
				unread = append(unread, Unread{Kind: gk, Resource: gv.String(), Verb: "discover", Reason: cause.Error()})
			}
		}
	}
	return out, unread, nil
}

// listJob is one kind to list in one scope.
type listJob struct {
	gk        schema.GroupKind
	served    served
	namespace string // "" for all namespaces or a cluster-scoped kind
}

// listAll lists the jobs, a few at a time, and returns the objects and
// what could not be read.
func (l *lister) listAll(ctx context.Context, jobs []listJob, workers int) ([]*rules.Object, []Unread) {
	var (
		mu     sync.Mutex
		objs   []*rules.Object
		unread []Unread
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				got, u := l.list(ctx, jobs[i])
				mu.Lock()
				objs = append(objs, got...)
				if u != nil {
					unread = append(unread, *u)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(unread, func(i, j int) bool {
		if unread[i].Kind != unread[j].Kind {
			return unread[i].Kind.String() < unread[j].Kind.String()
		}
		return unread[i].Namespace < unread[j].Namespace
	})
	return objs, unread
}

// list pages through one kind. A page that fails is retried with the same
// continue token; an expired token starts the kind over, since a list must
// be one consistent snapshot.
func (l *lister) list(ctx context.Context, job listJob) ([]*rules.Object, *Unread) {
	var res dynamic.ResourceInterface = l.dynamic.Resource(job.served.gvr)
	if job.served.namespaced && job.namespace != "" {
		res = l.dynamic.Resource(job.served.gvr).Namespace(job.namespace)
	}
	unread := func(err error) *Unread {
		return &Unread{Kind: job.gk, Resource: job.served.gvr.GroupResource().String(), Namespace: job.namespace,
			Verb: "list", Forbidden: apierrors.IsForbidden(err), Reason: reason(err)}
	}
	var objs []*rules.Object
	token := ""
	for {
		var page []map[string]any
		var cont string
		err := l.retry(ctx, func() error {
			list, err := res.List(ctx, metav1.ListOptions{Limit: l.pageSize, Continue: token})
			if err != nil {
				return err
			}
			page = page[:0]
			for i := range list.Items {
				page = append(page, list.Items[i].Object)
			}
			cont = list.GetContinue()
			return nil
		})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			return nil, nil // the CRD went away meanwhile: nothing of it exists
		case apierrors.IsResourceExpired(err) && token != "":
			objs, token = nil, "" // the snapshot expired: read the kind again
			continue
		default:
			return nil, unread(err)
		}
		for _, content := range page {
			if md, ok := content["metadata"].(map[string]any); ok {
				delete(md, "managedFields") // never read by a rule, often most of the object
			}
			objs = append(objs, rules.NewObject(content))
		}
		if cont == "" {
			return objs, nil
		}
		token = cont
	}
}

// reason is what the API server said (an RBAC refusal names the user, verb
// and resource), or the client's error; neither holds object content.
func reason(err error) string {
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// retry calls fn until it succeeds, fails for good (RBAC, a missing
// resource, a bad request) or retryFor has passed since the first failure:
// an API server restarting mid-audit is waited for, not reported as an
// empty cluster.
func (l *lister) retry(ctx context.Context, fn func() error) error {
	var deadline time.Time
	wait := 200 * time.Millisecond
	for {
		err := fn()
		if err == nil || final(err) {
			return err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(l.retryFor)
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("still failing after %s: %w", l.retryFor, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// final reports an error that retrying cannot cure.
func final(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsInvalid(err) ||
		apierrors.IsResourceExpired(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
