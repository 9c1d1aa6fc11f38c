package webhook_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Hostile clients on the webhook port, and hostile objects through the API
// server. TestMalformedAdmissionReviews (robustness_test.go) covers broken
// and oversized AdmissionReview bodies sent whole and at once; these cover
// clients that send slowly or not at all, and objects the API server lets
// through that are as deep or as large as it allows.

// slowClient is a connection to the webhook port that a hostile client
// holds open; closed is when the server closed it.
type slowClient struct {
	kind   string
	opened time.Time
	closed chan time.Time
}

// holdOpen reads from conn until the server closes it, while trickle (if
// any) writes to it one byte at a time.
func holdOpen(ctx context.Context, kind string, conn net.Conn, trickle []byte) *slowClient {
	c := &slowClient{kind: kind, opened: time.Now(), closed: make(chan time.Time, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				c.closed <- time.Now()
				conn.Close()
				return
			}
		}
	}()
	go func() {
		for _, b := range trickle {
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	return c
}

// dialTLS completes a handshake with the webhook port, trusting gjallar's CA.
func dialTLS(t *testing.T) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", suite.port),
		&tls.Config{RootCAs: tlsClient().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake with the webhook: %v", err)
	}
	return conn
}

// TestSlowClientsAreClosedWhileOthersAreAnswered holds open, at once, a
// connection that never starts the TLS handshake, one that sends its
// request headers a byte at a time, and more connections than the server
// evaluates requests at once (--max-in-flight, 8 here) that send whole
// headers and then their body a byte at a time. Meanwhile reviews sent on
// other connections, and through the API server, are all answered with
// the right verdict (not refused with 429), and the server closes every
// slow connection within its read timeouts (10s for headers and the
// handshake, 15s for the whole request) plus slack.
func TestSlowClientsAreClosedWhileOthersAreAnswered(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients []*slowClient

	silent, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", suite.port))
	if err != nil {
		t.Fatal(err)
	}
	clients = append(clients, holdOpen(ctx, "no TLS handshake", silent, nil))

	headers := "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
	clients = append(clients, holdOpen(ctx, "headers a byte at a time", dialTLS(t), []byte(headers)))

	const slowBodies = 12 // more than the default --max-in-flight on this machine (8)
	for range slowBodies {
		conn := dialTLS(t)
		if _, err := conn.Write([]byte(headers)); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, holdOpen(ctx, "body a byte at a time", conn, []byte(strings.Repeat(" ", 4096))))
	}
	// Let the slow bodies reach the handlers.
	time.Sleep(2 * time.Second)

	// Meanwhile: direct reviews on fresh connections, and requests through
	// the API server, each answered with the verdict it must get.
	sent, answered := 0, 0
	bad := review(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"x"},"data":{"config.json":"{\"providers\": []}"}}`)
	ns := namespace(t, "hostile")
	for range 5 {
		sent++
		code, out, err := post(t, "/validate", bad)
		var resp struct {
			Response struct {
				UID     string `json:"uid"`
				Allowed bool   `json:"allowed"`
				Status  struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"status"`
			} `json:"response"`
		}
		switch {
		case err != nil:
			t.Errorf("direct review while slow clients hold connections: %v", err)
		case code != http.StatusOK || json.Unmarshal(out, &resp) != nil:
			t.Errorf("direct review: HTTP %d %.300s", code, out)
		case resp.Response.UID != "u1" || resp.Response.Allowed || !strings.Contains(resp.Response.Status.Message, "bifrost-providers-map"):
			t.Errorf("direct review answered wrongly (status %d): %.300s", resp.Response.Status.Code, resp.Response.Status.Message)
		default:
			answered++
		}
		sent++
		err = suite.client.Create(context.Background(), badConfigMap(fmt.Sprintf("hostile-%d", sent), ns), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "bifrost-providers-map") {
			t.Errorf("through the API server while slow clients hold connections: %v, want the denial", err)
		} else {
			answered++
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Every slow connection is closed by the server, within its timeouts.
	const bound = 15*time.Second + 10*time.Second // readTimeout plus slack
	closedIn := map[string]time.Duration{}
	for _, c := range clients {
		select {
		case at := <-c.closed:
			closedIn[c.kind] = max(closedIn[c.kind], at.Sub(c.opened))
		case <-time.After(time.Until(c.opened.Add(bound))):
			t.Errorf("%s: connection still open after %s", c.kind, bound)
		}
	}
	t.Logf("reviews sent %d, answered %d; %d slow connections, longest held open: %v", sent, answered, len(clients), closedIn)
}

// TestDeepConfigJSONAnswered sends, through the API server, a ConfigMap and
// a Secret whose config.json is nested 100,000 levels deep (objects, then
// arrays): the webhooks answer (allow or deny), never fail the call.
func TestDeepConfigJSONAnswered(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "hostile-deep")
	const depth = 100000
	deep := map[string]string{
		"objects": `{"providers":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth+1),
		"arrays":  `{"providers":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}",
	}
	for shape, text := range deep {
		objs := []client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "deep-" + shape, Namespace: ns}, Data: map[string]string{"config.json": text}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "deep-" + shape, Namespace: ns}, StringData: map[string]string{"config.json": text}},
		}
		for _, o := range objs {
			err := suite.client.Create(ctx, o, client.DryRunAll)
			kind := fmt.Sprintf("%T", o)
			if !answeredByWebhook(err) {
				t.Errorf("%s with config.json nested %d deep (%s): %v", kind, depth, shape, err)
			} else {
				t.Logf("%s nested %d deep (%s): %s", kind, depth, shape, verdictOf(err))
			}
		}
	}
}

// TestObjectAtRequestLimitAnswered sends, through the API server, a
// Deployment just under the API server's 3 MiB request limit (a large
// environment value): the webhooks answer it. One just over the limit is
// refused by the API server itself (413), which shows the first was at the
// limit.
func TestObjectAtRequestLimitAnswered(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "hostile-large")
	const limit = 3 << 20
	large := func(name string, size int) *appsv1.Deployment {
		d := bifrostDeployment(name, ns, "", false)
		c := &d.Spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: "PADDING", Value: strings.Repeat("x", size)})
		return d
	}
	err := suite.client.Create(ctx, large("at-limit", limit-32<<10), client.DryRunAll)
	if !answeredByWebhook(err) {
		t.Errorf("Deployment of about %d bytes: %v", limit-32<<10, err)
	} else {
		t.Logf("Deployment of about %d bytes: %s", limit-32<<10, verdictOf(err))
	}
	err = suite.client.Create(ctx, large("over-limit", limit+1), client.DryRunAll)
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("control: a Deployment over 3 MiB got %v, want 413 from the API server", err)
	}
}

// answeredByWebhook: admitted, or denied by a webhook's answer; not a
// failed call (5xx, time-out, connection error).
func answeredByWebhook(err error) bool {
	if err == nil {
		return true
	}
	var status apierrors.APIStatus
	if s, ok := err.(apierrors.APIStatus); ok {
		status = s
	}
	return status != nil && status.Status().Code < 500 && strings.Contains(err.Error(), "denied the request")
}

func verdictOf(err error) string {
	if err == nil {
		return "admitted"
	}
	msg := err.Error()
	return "denied: " + msg[:min(len(msg), 160)]
}
