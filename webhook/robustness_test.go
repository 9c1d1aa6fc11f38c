package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/webhook"
)

func post(t *testing.T, path string, body []byte) (int, []byte, error) {
	t.Helper()
	resp, err := tlsClient().Post(fmt.Sprintf("https://127.0.0.1:%d%s", suite.port, path), "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}

func review(object string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",
 "kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},
 "namespace":"x","operation":"CREATE","userInfo":{},"object":` + object + `}}`)
}

// TestMalformedAdmissionReviews sends broken requests over real TLS: every
// one gets an answer, none takes the server down, and a good request still
// works afterwards.
func TestMalformedAdmissionReviews(t *testing.T) {
	requireEnv(t)
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	bodies := map[string][]byte{
		"empty":           nil,
		"not json":        []byte("{"),
		"null":            []byte("null"),
		"array":           []byte("[1,2]"),
		"no request":      []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`),
		"wrong types":     []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5,"operation":[]}}`),
		"object not json": review(`"not an object"`),
		"object is array": review(`[]`),
		"object is null":  review(`null`),
		"no metadata":     review(`{"apiVersion":"v1","kind":"ConfigMap","data":{"config.json":"{\"providers\":[]}"}}`),
		"metadata wrong":  review(`{"apiVersion":"v1","kind":"ConfigMap","metadata":"x","data":{"config.json":5}}`),
		"deep object":     review(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":` + deep + `}`),
		"deployment junk": []byte(strings.Replace(string(review(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":"x","volumes":7}}}}`)), `"ConfigMap"`, `"Deployment"`, 1)),
		"huge":            append(review(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h"},"data":{"k":"`), append(bytes.Repeat([]byte("a"), 8<<20), []byte(`"}}}}`)...)...),
		"binary":          {0x00, 0xff, 0xfe, 0x1f, 0x8b},
	}
	for name, body := range bodies {
		for _, path := range []string{"/validate", "/mutate"} {
			code, out, err := post(t, path, body)
			if err != nil {
				t.Errorf("%s %s: no answer: %v", name, path, err)
				continue
			}
			if code >= 500 {
				t.Errorf("%s %s: HTTP %d %s", name, path, code, out)
				continue
			}
			// A well-formed answer never reports an internal error (the
			// handlers turn panics into 500s in the body).
			var r struct {
				Response *struct {
					Status *struct {
						Code int `json:"code"`
					} `json:"status"`
				} `json:"response"`
			}
			if json.Unmarshal(out, &r) == nil && r.Response != nil && r.Response.Status != nil && r.Response.Status.Code >= 500 {
				t.Errorf("%s %s: internal error in the answer: %s", name, path, out)
			}
		}
	}
	code, out, err := post(t, "/validate", review(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"x"},"data":{"config.json":"{\"providers\": []}"}}`))
	if err != nil || code != http.StatusOK {
		t.Fatalf("after the bad requests: %d %v", code, err)
	}
	var resp struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Status  struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Response.UID != "u1" || resp.Response.Allowed || !strings.Contains(resp.Response.Status.Message, "bifrost-providers-map") {
		t.Errorf("a good request after the bad ones: %s", out)
	}
}

func TestTLSMinimumVersion(t *testing.T) {
	requireEnv(t)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", suite.port), &tls.Config{MaxVersion: v, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Errorf("handshake with TLS version %x succeeded", v)
		}
	}
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", suite.port), &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: tlsClient().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS 1.2+ with gjallar's CA: %v", err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("HTTP/2 negotiated")
	}
	conn.Close()
}

// TestCABundleInjected: gjallar's own certificate rotation put its CA into
// both webhook configurations (the API server's calls in the other tests
// depend on it).
func TestCABundleInjected(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	var v admissionregv1.ValidatingWebhookConfiguration
	var m admissionregv1.MutatingWebhookConfiguration
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "gjallar"}, &v); err != nil {
		t.Fatal(err)
	}
	if err := suite.client.Get(ctx, client.ObjectKey{Name: "gjallar"}, &m); err != nil {
		t.Fatal(err)
	}
	for _, w := range v.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, suite.caPEM) {
			t.Errorf("%s: caBundle is not gjallar's CA", w.Name)
		}
	}
	if !bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, suite.caPEM) {
		t.Error("mutating webhook: caBundle is not gjallar's CA")
	}
}

func TestMetrics(t *testing.T) {
	requireEnv(t)
	const denied = `gjallar_admission_requests_total{decision="denied",operation="CREATE",webhook="validate"}`
	const findings = `gjallar_findings_total{rule="bifrost-providers-map",severity="error"}`
	before := scrape(t)
	for i := 0; i < 3; i++ {
		if err := suite.client.Create(context.Background(), badConfigMap("metrics", namespace(t, "metrics")), client.DryRunAll); err == nil {
			t.Fatal("bad ConfigMap admitted")
		}
	}
	after := scrape(t)
	for _, series := range []string{denied, findings} {
		if d := after[series] - before[series]; d != 3 {
			t.Errorf("%s grew by %v, want 3", series, d)
		}
	}
	if after[`gjallar_admission_duration_seconds_count{webhook="validate"}`] <= before[`gjallar_admission_duration_seconds_count{webhook="validate"}`] {
		t.Error("latency histogram did not count the requests")
	}
}

// scrape reads the in-process replica's metrics as series -> value.
func scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", suite.metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndex(line, " ")
		var v float64
		fmt.Sscan(line[i+1:], &v)
		out[line[:i]] = v
	}
	return out
}

// TestMissingKindIsSkipped builds an index over the real API server asking
// for a kind it does not serve: the kind is reported missing, lookups of it
// find nothing, and the rules still run.
func TestMissingKindIsSkipped(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := webhook.CacheOptions()
	opts.Scheme, opts.Mapper = suite.client.Scheme(), suite.client.RESTMapper()
	c, err := cache.New(suite.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	absent := schema.GroupKind{Group: "absent.example.dev", Kind: "Widget"}
	idx, missing, err := webhook.NewClusterIndex(ctx, c, suite.client.RESTMapper(), []schema.GroupKind{rules.ConfigMapKind, absent}, 0)
	if err != nil {
		t.Fatal(err)
	}
	go c.Start(ctx)
	c.WaitForCacheSync(ctx)
	if len(missing) != 1 || missing[0] != absent {
		t.Errorf("missing = %v", missing)
	}
	if idx.Get(absent, "x", "y") != nil || idx.List(absent, "") != nil || idx.Serves(absent) {
		t.Error("an absent kind returned objects")
	}
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	obj := rules.NewObject(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "g", "namespace": "x", "annotations": map[string]any{"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}},
		"spec":     map[string]any{"gatewayClassName": "kgateway"}})
	if fs := e.NewRun(rules.Overlay(idx, obj)).Check(obj); len(fs) == 0 {
		t.Error("no findings for an internet-facing Gateway with an index lacking Gateway API kinds")
	}
}
