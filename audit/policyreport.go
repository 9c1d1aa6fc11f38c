package audit

import (
	"bytes"
	"fmt"
	"io"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/audit/wgpolicy/v1alpha2"
	"github.com/gjallar-dev/gjallar/rules"
)

// ReportAPI is the API the reports are written in.
type ReportAPI string

const (
	// WGPolicy is wgpolicyk8s.io/v1alpha2 PolicyReport and
	// ClusterPolicyReport: what Kyverno wrote until 1.13, Policy Reporter
	// shows and `kubectl get polr -A` lists. The default.
	WGPolicy ReportAPI = "wgpolicyk8s.io/v1alpha2"
	// OpenReports is openreports.io/v1alpha1 Report and ClusterReport, the
	// successor API newer Kyverno writes.
	OpenReports ReportAPI = "openreports.io/v1alpha1"
)

// ParseReportAPI accepts an API's group/version or its group alone.
func ParseReportAPI(s string) (ReportAPI, error) {
	switch s {
	case string(WGPolicy), "wgpolicyk8s.io", "":
		return WGPolicy, nil
	case string(OpenReports), "openreports.io":
		return OpenReports, nil
	}
	return "", fmt.Errorf("unknown report API %q (want %s or %s)", s, WGPolicy, OpenReports)
}

// Kinds returns the API's namespaced and cluster-scoped report kinds.
func (a ReportAPI) Kinds() (namespaced, cluster string) {
	if a == OpenReports {
		return "Report", "ClusterReport"
	}
	return "PolicyReport", "ClusterPolicyReport"
}

const (
	// Source names gjallar as the results' engine.
	Source = "gjallar"
	// ReportName is the name of gjallar's report in each namespace (and of
	// its cluster report); further reports of a crowded namespace are
	// ReportName-2, -3, ...
	ReportName = "gjallar"
	// ManagedByLabel marks the reports gjallar owns: the background audit
	// deletes those no longer needed, and touches no other.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// maxResults bounds one report, to stay well inside the API server's
	// object size limit (about 1.5 MB) with long messages.
	maxResults = 500
)

// ReportResult maps a finding to a report result: an error fails (severity
// high), a warning warns (medium), an info finding warns with severity
// info, and a rule that could not judge the object is an error result,
// the reports' word for a check that could not be evaluated.
func ReportResult(f Finding, now time.Time) v1alpha2.Result {
	res := v1alpha2.Result{
		Source:    Source,
		Policy:    f.Rule,
		Timestamp: metav1.Timestamp{Seconds: now.Unix()},
		Message:   f.Message,
		Resources: []corev1.ObjectReference{{
			APIVersion: f.Object.APIVersion, Kind: f.Object.Kind,
			Namespace: f.Object.Namespace, Name: f.Object.Name, UID: types.UID(f.UID),
		}},
	}
	switch f.Severity {
	case rules.Error:
		res.Result, res.Severity, res.Scored = v1alpha2.Fail, v1alpha2.SeverityHigh, true
	case rules.Warning:
		res.Result, res.Severity = v1alpha2.Warn, v1alpha2.SeverityMedium
	default:
		res.Result, res.Severity = v1alpha2.Warn, v1alpha2.SeverityInfo
	}
	props := map[string]string{}
	if p := f.FieldPath(); p != "" {
		props["path"] = p
	}
	if len(f.Unjudged) > 0 {
		res.Result, res.Scored = v1alpha2.Error, false
		props["unreadKinds"] = kindNames(f.Unjudged)
	}
	if len(props) > 0 {
		res.Properties = props
	}
	return res
}

// Reports builds the reports for findings (sorted by object, as Evaluate
// returns them): one per namespace with findings and one for the
// cluster-scoped objects, each with at most maxResults results and the
// summary counts, as unstructured objects ready to apply. Namespaces
// without findings get none.
func Reports(api ReportAPI, findings []Finding, now time.Time) ([]*unstructured.Unstructured, error) {
	byNS := map[string][]v1alpha2.Result{}
	var order []string
	for _, f := range findings {
		ns := f.Object.Namespace
		if _, ok := byNS[ns]; !ok {
			order = append(order, ns)
		}
		byNS[ns] = append(byNS[ns], ReportResult(f, now))
	}
	var out []*unstructured.Unstructured
	for _, ns := range order {
		results := byNS[ns]
		for part := 0; len(results) > 0; part++ {
			n := min(len(results), maxResults)
			name := ReportName
			if part > 0 {
				name = fmt.Sprintf("%s-%d", ReportName, part+1)
			}
			u, err := report(api, ns, name, results[:n])
			if err != nil {
				return nil, err
			}
			out = append(out, u)
			results = results[n:]
		}
	}
	return out, nil
}

// Summarize counts results by outcome.
func Summarize(results []v1alpha2.Result) v1alpha2.Summary {
	var s v1alpha2.Summary
	for _, r := range results {
		switch r.Result {
		case v1alpha2.Pass:
			s.Pass++
		case v1alpha2.Fail:
			s.Fail++
		case v1alpha2.Warn:
			s.Warn++
		case v1alpha2.Error:
			s.Error++
		case v1alpha2.Skip:
			s.Skip++
		}
	}
	return s
}

// report builds one report in the chosen API; namespace "" makes the
// cluster-scoped kind.
func report(api ReportAPI, namespace, name string, results []v1alpha2.Result) (*unstructured.Unstructured, error) {
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: Source}}
	nsKind, clusterKind := api.Kinds()
	kind := nsKind
	if namespace == "" {
		kind = clusterKind
	}
	body := v1alpha2.Report{Summary: Summarize(results), Results: results}
	var obj any
	if api == OpenReports {
		r := openreports.Report{ObjectMeta: meta, Source: Source, Summary: openreports.ReportSummary(body.Summary)}
		for _, res := range results {
			r.Results = append(r.Results, openreports.ReportResult{
				Source: res.Source, Policy: res.Policy, Rule: res.Rule, Category: res.Category,
				Severity: openreports.ResultSeverity(res.Severity), Timestamp: res.Timestamp,
				Result: openreports.Result(res.Result), Scored: res.Scored, Subjects: res.Resources,
				ResourceSelector: res.ResourceSelector, Description: res.Message, Properties: res.Properties,
			})
		}
		obj = &r
	} else {
		obj = &v1alpha2.PolicyReport{ObjectMeta: meta, Report: body}
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("building %s %s/%s: %w", kind, namespace, name, err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion(string(api))
	u.SetKind(kind)
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// WriteYAML writes objects as a YAML stream, ready for kubectl apply -f.
func WriteYAML(w io.Writer, objs []*unstructured.Unstructured) error {
	var buf bytes.Buffer
	for _, u := range objs {
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
