// Package audit is gjallar's third door, next to lint and the webhook: it
// lists what already runs in a cluster, checks it with the same engine,
// with the cluster as a complete index, and reports the findings with
// lint's formats or as PolicyReports. It is the only package that knows
// listing a cluster and writing reports; rules/ knows none of it.
package audit

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// Options says what to audit.
type Options struct {
	// Config reaches the API server.
	Config *rest.Config
	// Namespace limits the audit to one namespace; "" audits them all.
	// Cluster-scoped objects are read either way, as context, and checked
	// only when auditing all namespaces.
	Namespace string
	// Secrets reads the Secrets of the audited namespaces, where Bifrost
	// configs may live; without it no Secret is read. No Secret value is
	// ever printed: findings carry messages, never object content.
	Secrets bool
	// Kinds are listed besides those the rules and built-in policies read:
	// kinds a user's Rego policy is about.
	Kinds []schema.GroupKind
	// PolicyKinds are the kinds the loaded policies report on
	// (policies.Set.Kinds).
	PolicyKinds []schema.GroupKind
	// PageSize is the limit of each LIST request (default 500).
	PageSize int64
	// RetryFor is how long a failing request is retried before the kind
	// is reported unread (default 1 minute).
	RetryFor time.Duration
	// Workers lists this many kinds at once (default 4).
	Workers int
}

// Result is one audit's outcome.
type Result struct {
	Findings []Finding
	// Unread are the kinds not read: refused by RBAC (the audit went on
	// around them) or failing (the audit is incomplete).
	Unread []Unread
	// Listed counts the objects read; Checked those checked (in scope, not
	// controlled by another object, not in an opted-out namespace).
	Listed, Checked int
	// Kinds counts the kinds the API server serves that were listed.
	Kinds int
	// Requests counts the requests sent to the API server.
	Requests int64
	Duration time.Duration
}

// Finding is a finding about an object in the cluster.
type Finding struct {
	rules.Finding
	// UID is the object's metadata.uid, for report references.
	UID string
	// Unjudged is set when the rule could not judge the object: it reads
	// these kinds, which the audit could not list. The finding then says
	// so instead of whatever the rule concluded without them.
	Unjudged []schema.GroupKind
}

// Incomplete reports whether some kind could not be read for a reason
// other than RBAC: the audit then must not pass for a clean bill.
func (r *Result) Incomplete() bool {
	for _, u := range r.Unread {
		if !u.Forbidden {
			return true
		}
	}
	return false
}

// Run lists the cluster and checks it with engine.
func Run(ctx context.Context, engine *rules.Engine, o Options) (*Result, error) {
	start := time.Now()
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.RetryFor <= 0 {
		o.RetryFor = time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	go engine.Warm() // compile the schema while the lists are under way
	l, err := newLister(o.Config, o.PageSize, o.RetryFor)
	if err != nil {
		return nil, err
	}
	kinds := Kinds(o)
	served, unread, err := l.discover(ctx, kinds)
	if err != nil {
		return nil, err
	}
	var jobs []listJob
	for _, gk := range kinds {
		s, ok := served[gk]
		if !ok {
			continue
		}
		job := listJob{gk: gk, served: s}
		if s.namespaced {
			job.namespace = o.Namespace
		}
		jobs = append(jobs, job)
	}
	objs, failed := l.listAll(ctx, jobs, o.Workers)
	unread = append(unread, failed...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	idx := newClusterIndex(objs, o.Namespace, unread)
	var checked []*rules.Object
	for _, obj := range objs {
		inScope := obj.Namespace() == o.Namespace || (o.Namespace == "")
		if inScope && Checked(idx, obj) {
			checked = append(checked, obj)
		}
	}
	res := &Result{
		Findings: Evaluate(engine, idx, checked, true, runtime.GOMAXPROCS(0)),
		Unread:   unread, Listed: len(objs), Checked: len(checked), Kinds: len(jobs),
	}
	res.Requests = l.requests.Load()
	res.Duration = time.Since(start)
	return res, nil
}

// Kinds are what an audit with these options lists: every kind the
// built-in rules check or look up, the policies' kinds and the extra ones;
// Secrets only when asked for.
func Kinds(o Options) []schema.GroupKind {
	set := map[schema.GroupKind]bool{}
	for _, list := range [][]schema.GroupKind{builtin.Kinds(), o.PolicyKinds, o.Kinds} {
		for _, gk := range list {
			set[gk] = true
		}
	}
	if !o.Secrets {
		delete(set, rules.SecretKind)
	}
	out := make([]schema.GroupKind, 0, len(set))
	for gk := range set {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// IgnoreNamespaceLabel opts a namespace out of gjallar, in the webhook and
// in the audit alike.
const IgnoreNamespaceLabel = "gjallar.dev/ignore"

// templateChildren are kinds whose objects usually come from another
// object's pod template: a Pod of a ReplicaSet, a ReplicaSet of a
// Deployment, a Job of a CronJob.
var templateChildren = map[schema.GroupKind]bool{
	rules.PodKind: true, rules.ReplicaSetKind: true, rules.JobKind: true,
}

// Checked reports whether the audit checks obj: not when a controller made
// it from its own template (the finding belongs to the owner, which is
// checked, not to each of its copies), nor when its namespace is labelled
// gjallar.dev/ignore=true.
func Checked(idx rules.Index, obj *rules.Object) bool {
	if templateChildren[obj.GroupKind()] {
		for _, ref := range rules.LookupList(obj.Content, "metadata", "ownerReferences") {
			if controller, _ := rules.LookupMap(ref)["controller"].(bool); controller {
				return false
			}
		}
	}
	if ns := obj.Namespace(); ns != "" {
		if n := idx.Get(rules.NamespaceKind, "", ns); n != nil &&
			rules.LookupString(n.Content, "metadata", "labels", IgnoreNamespaceLabel) == "true" {
			return false
		}
	}
	return true
}

// Evaluate checks objs against idx with engine on workers goroutines and
// returns the findings sorted by object. judged tracks the rules that read
// a kind idx does not serve (the audit's forbidden kinds) and reports them
// as unable to judge; the webhook's background audit leaves it off, to say
// exactly what admission says.
func Evaluate(engine *rules.Engine, idx rules.Index, objs []*rules.Object, judged bool, workers int) []Finding {
	return EvaluateEach(engine, idx, len(objs), func(i int) *rules.Object { return objs[i] }, judged, workers)
}

// EvaluateEach is Evaluate for n objects that get fetches one at a time
// (nil skips one), so that an index that decodes objects on demand (the
// webhook's compact cache) holds only those being checked, not all n.
func EvaluateEach(engine *rules.Engine, idx rules.Index, n int, get func(int) *rules.Object, judged bool, workers int) []Finding {
	run := engine.NewRun(idx)
	found := make([][]Finding, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if obj := get(i); obj != nil {
					found[i] = check(run, obj, judged)
				}
			}
		})
	}
	wg.Wait()
	var out []Finding
	for _, fs := range found {
		out = append(out, fs...)
	}
	SortFindings(out)
	return out
}

func check(run *rules.Run, obj *rules.Object, judged bool) []Finding {
	var fs []rules.Finding
	var unjudged []rules.Unjudged
	if judged {
		fs, unjudged = run.CheckJudged(obj)
	} else {
		fs = run.Check(obj)
	}
	uid := rules.LookupString(obj.Content, "metadata", "uid")
	blind := map[string][]schema.GroupKind{}
	for _, u := range unjudged {
		blind[u.Rule] = u.Kinds
	}
	var out []Finding
	for _, f := range fs {
		if _, ok := blind[f.Rule]; !ok {
			out = append(out, Finding{Finding: f, UID: uid})
		}
	}
	// What a rule concluded without the kinds it reads may be false (a
	// Service that "does not exist"): it says it could not judge instead.
	for _, u := range unjudged {
		out = append(out, Finding{UID: uid, Unjudged: u.Kinds, Finding: rules.Finding{
			Rule: u.Rule, Severity: rules.Warning, Object: obj.Ref(),
			Message: fmt.Sprintf("could not judge this object: the rule reads %s, which the audit could not list (see the notices)", kindNames(u.Kinds)),
		}})
	}
	return out
}

func kindNames(kinds []schema.GroupKind) string {
	names := make([]string, len(kinds))
	for i, gk := range kinds {
		names[i] = gk.Kind
		if gk.Group != "" {
			names[i] += "." + gk.Group
		}
	}
	return strings.Join(names, ", ")
}

// SortFindings orders findings by namespace, kind, name, field path, rule
// and message, so output is stable whatever order objects were read in.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.Object.Namespace != b.Object.Namespace:
			return a.Object.Namespace < b.Object.Namespace
		case a.Object.Kind != b.Object.Kind:
			return a.Object.Kind < b.Object.Kind
		case a.Object.APIVersion != b.Object.APIVersion:
			return a.Object.APIVersion < b.Object.APIVersion
		case a.Object.Name != b.Object.Name:
			return a.Object.Name < b.Object.Name
		case a.FieldPath() != b.FieldPath():
			return a.FieldPath() < b.FieldPath()
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// LintReport is the result as lint's formatters take it: findings located
// by object and field path, unread kinds as notices.
func (r *Result) LintReport() *lint.Report {
	rep := &lint.Report{Objects: r.Checked}
	for _, f := range r.Findings {
		rep.Findings = append(rep.Findings, lint.Located{Finding: f.Finding})
	}
	for _, u := range r.Unread {
		level := rules.Error
		if u.Forbidden {
			level = rules.Warning
		}
		rep.Notices = append(rep.Notices, lint.Notice{Level: level, Message: u.Message()})
	}
	return rep
}
