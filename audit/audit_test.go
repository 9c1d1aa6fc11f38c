package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gjallar-dev/gjallar/audit/wgpolicy/v1alpha2"
	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files")

func load(t *testing.T, path string) []*rules.Object {
	t.Helper()
	in, err := lint.Load([]string{path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*rules.Object
	for _, d := range in.Documents {
		objs = append(objs, d.Object)
	}
	return objs
}

func engine(t *testing.T) *rules.Engine {
	t.Helper()
	e, err := rules.NewEngine(builtin.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestUnreadKindMakesRulesSayTheyCouldNotJudge: with Services unread, the
// route's "Service does not exist" findings would be false; the rule says
// it could not judge the route instead, once.
func TestUnreadKindMakesRulesSayTheyCouldNotJudge(t *testing.T) {
	objs := load(t, filepath.Join("..", "testdata", "rules", "httproute-backend-exists", "bad", "missing-service.yaml"))
	of := func(fs []Finding) (out []string) {
		for _, f := range fs {
			if f.Rule == "httproute-backend-exists" {
				out = append(out, fmt.Sprintf("%s %s %v", f.Severity, f.Message, f.Unjudged))
			}
		}
		return out
	}
	seeing := of(Evaluate(engine(t), newClusterIndex(objs, "", nil), objs, true, 2))
	if len(seeing) != 3 || !strings.Contains(strings.Join(seeing, "\n"), "does not exist") {
		t.Fatalf("with Services read: %q", seeing)
	}
	blind := of(Evaluate(engine(t), newClusterIndex(objs, "", []Unread{{Kind: rules.ServiceKind, Forbidden: true}}), objs, true, 2))
	if len(blind) != 1 || !strings.Contains(blind[0], "could not judge this object: the rule reads Service") ||
		!strings.HasPrefix(blind[0], "warning") || !strings.HasSuffix(blind[0], "[Service]") {
		t.Errorf("with Services unread: %q", blind)
	}
	// Untracked (the background audit), the rule answers as at admission.
	if got := of(Evaluate(engine(t), newClusterIndex(objs, "", []Unread{{Kind: rules.ServiceKind}}), objs, false, 1)); len(got) != 3 {
		t.Errorf("untracked: %q", got)
	}
}

func TestChecked(t *testing.T) {
	objs := load(t, filepath.Join("testdata", "checked.yaml"))
	idx := newClusterIndex(objs, "", nil)
	var got []string
	for _, o := range objs {
		if Checked(idx, o) {
			got = append(got, o.Ref().String())
		}
	}
	want := "Namespace ignored, Namespace team, Pod team/bare, ReplicaSet team/owned-by-nothing, Deployment team/web"
	if strings.Join(got, ", ") != want {
		t.Errorf("checked %s, want %s", strings.Join(got, ", "), want)
	}
}

func findings() []Finding {
	ref := func(kind, ns, name string) rules.ObjectRef {
		return rules.ObjectRef{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
	}
	return []Finding{
		{UID: "u1", Finding: rules.Finding{Rule: "bifrost-providers-map", Severity: rules.Error, Message: "providers is a list", Object: ref("ConfigMap", "ai", "bifrost"), Path: rules.Path{"data", "config.json"}}},
		{UID: "u2", Finding: rules.Finding{Rule: "config-rollout-hash", Severity: rules.Warning, Message: "no hash", Object: ref("Deployment", "ai", "bifrost")}},
		{UID: "u3", Finding: rules.Finding{Rule: "httproute-reference-grant", Severity: rules.Info, Message: "may live elsewhere", Object: ref("HTTPRoute", "ai", "chat")}},
		{UID: "u3", Unjudged: []schema.GroupKind{rules.ServiceKind}, Finding: rules.Finding{Rule: "httproute-backend-exists", Severity: rules.Warning, Message: "could not judge", Object: ref("HTTPRoute", "ai", "chat")}},
		{UID: "u4", Finding: rules.Finding{Rule: "kgateway-gatewayclass", Severity: rules.Warning, Message: "not kgateway's", Object: ref("GatewayClass", "", "kgateway")}},
	}
}

// TestPolicyReportGolden pins the YAML `gjallar audit --format
// policyreport` writes (go test ./audit -update rewrites it).
func TestPolicyReportGolden(t *testing.T) {
	for api, name := range map[ReportAPI]string{WGPolicy: "audit.policyreport.yaml", OpenReports: "audit.openreports.yaml"} {
		reports, err := Reports(api, findings(), time.Unix(1767225600, 0))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteYAML(&buf, reports); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("..", "testdata", "golden", name)
		if *update {
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test ./audit -update writes it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from %s (go test ./audit -update rewrites it; review the diff):\n%s", api, golden, buf.String())
		}
	}
}

// strict decodes a report into its API's Go type, refusing unknown fields.
func strict(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	data, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Errorf("%s %s/%s does not decode strictly: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
}

func TestReports(t *testing.T) {
	now := time.Unix(1767225600, 0)
	reports, err := Reports(WGPolicy, findings(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 {
		t.Fatalf("%d reports, want one for ai and a cluster report", len(reports))
	}
	var ai v1alpha2.PolicyReport
	strict(t, reports[0], &ai)
	if ai.Kind != "PolicyReport" || ai.Namespace != "ai" || ai.Name != "gjallar" || ai.Labels[ManagedByLabel] != "gjallar" {
		t.Errorf("report meta %+v %+v", ai.TypeMeta, ai.ObjectMeta)
	}
	if ai.Summary != (v1alpha2.Summary{Fail: 1, Warn: 2, Error: 1}) {
		t.Errorf("summary %+v", ai.Summary)
	}
	want := []struct {
		policy   string
		result   v1alpha2.Outcome
		severity v1alpha2.Severity
	}{
		{"bifrost-providers-map", v1alpha2.Fail, v1alpha2.SeverityHigh},
		{"config-rollout-hash", v1alpha2.Warn, v1alpha2.SeverityMedium},
		{"httproute-reference-grant", v1alpha2.Warn, v1alpha2.SeverityInfo},
		{"httproute-backend-exists", v1alpha2.Error, v1alpha2.SeverityMedium},
	}
	for i, w := range want {
		r := ai.Results[i]
		if r.Policy != w.policy || r.Result != w.result || r.Severity != w.severity || r.Source != "gjallar" || r.Timestamp.Seconds != now.Unix() {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
	if r := ai.Results[0]; r.Properties["path"] != `data["config.json"]` || r.Resources[0].UID != "u1" || r.Resources[0].Name != "bifrost" {
		t.Errorf("result 0 = %+v", r)
	}
	if r := ai.Results[3]; r.Properties["unreadKinds"] != "Service" {
		t.Errorf("unjudged result = %+v", r)
	}
	var cluster v1alpha2.ClusterPolicyReport
	strict(t, reports[1], &cluster)
	if cluster.Kind != "ClusterPolicyReport" || cluster.Namespace != "" || len(cluster.Results) != 1 {
		t.Errorf("cluster report %+v", cluster)
	}

	open, err := Reports(OpenReports, findings(), now)
	if err != nil {
		t.Fatal(err)
	}
	var rep openreports.Report
	strict(t, open[0], &rep)
	if open[0].GetAPIVersion() != "openreports.io/v1alpha1" || open[0].GetKind() != "Report" || rep.Source != "gjallar" ||
		len(rep.Results) != 4 || rep.Results[3].Result != "error" || rep.Summary.Fail != 1 {
		t.Errorf("openreports report %+v", rep)
	}
	if open[1].GetKind() != "ClusterReport" {
		t.Errorf("openreports cluster kind %s", open[1].GetKind())
	}
}

// TestReportsSplitCrowdedNamespaces: a report stays well under the API
// server's size limit; a namespace with more findings gets several.
func TestReportsSplitCrowdedNamespaces(t *testing.T) {
	var fs []Finding
	for i := range 2*maxResults + 1 {
		fs = append(fs, Finding{Finding: rules.Finding{Rule: "r", Severity: rules.Error, Message: strings.Repeat("m", 400),
			Object: rules.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "busy", Name: fmt.Sprint(i)}}})
	}
	reports, err := Reports(WGPolicy, fs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	total := 0
	for _, r := range reports {
		names = append(names, r.GetName())
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		total += len(results)
		data, _ := json.Marshal(r.Object)
		if len(data) > 1<<20 {
			t.Errorf("%s is %d bytes", r.GetName(), len(data))
		}
	}
	if strings.Join(names, ",") != "gjallar,gjallar-2,gjallar-3" || total != len(fs) {
		t.Errorf("reports %v holding %d results", names, total)
	}
}
