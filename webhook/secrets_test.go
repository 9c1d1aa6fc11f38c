package webhook_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/rollout"
	"github.com/gjallar-dev/gjallar/webhook"
)

// rollSecretValues are what the test's Secrets hold, before and after the data
// change; none may ever appear in a log or an event.
var rollSecretValues = []string{"sk-live-rollme-0000FIRST", "sk-live-rollme-1111SECOND"}

// secretHashOf is the secret hash of one Secret as the API server holds
// it: its name and its data (base64, as stored).
func secretHashOf(t *testing.T, s *corev1.Secret) string {
	t.Helper()
	data := map[string]any{}
	for k, v := range s.Data {
		data[k] = base64.StdEncoding.EncodeToString(v)
	}
	return rollout.ConfigHash([]*rules.Object{rules.NewObject(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": s.Name, "namespace": s.Namespace},
		"data":     data,
	})})
}

// secretReader is a Deployment whose one container reads a Secret the way
// read says (env, envFrom or a mounted volume); optIn adds
// gjallar.dev/restart-on-config-change.
func secretReader(name, ns, secret, read string, optIn bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	c := corev1.Container{Name: "app", Image: "registry.example.com/app:1.0"}
	var volumes []corev1.Volume
	switch read {
	case "env":
		c.Env = []corev1.EnvVar{{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "key"}}}}
	case "envFrom":
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}
	case "volume":
		c.VolumeMounts = []corev1.VolumeMount{{Name: "creds", MountPath: "/creds", ReadOnly: true}}
		volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: volumes}},
		},
	}
	if optIn {
		d.Annotations = map[string]string{rollout.AnnotationRestartOnChange: "true"}
	}
	return d
}

// TestSecretChangeRollsOnce runs the restart controller's Secret watch
// (--watch-secrets, on in both replicas of the suite) against the real API
// server. Workloads that opt in and read a Secret through env, envFrom or
// a volume, and a Bifrost workload that does not opt in, are stamped with
// gjallar.dev/secret-hash when created and rolled exactly once when their
// Secret's data changes, not at all when only its labels change. A
// workload that neither opts in nor runs Bifrost is never stamped or
// rolled. No Secret value reaches an event or either replica's logs.
func TestSecretChangeRollsOnce(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "secret-roll")

	type reader struct {
		d      *appsv1.Deployment
		secret string
		rolls  bool // the workload is covered: stamped, then rolled once
	}
	readers := []*reader{
		{d: secretReader("opted-env", ns, "env-key", "env", true), secret: "env-key", rolls: true},
		{d: secretReader("opted-envfrom", ns, "envfrom-creds", "envFrom", true), secret: "envfrom-creds", rolls: true},
		{d: secretReader("opted-volume", ns, "volume-creds", "volume", true), secret: "volume-creds", rolls: true},
		// Bifrost takes OPENAI_KEY from Secret openai: covered without opting in.
		{d: bifrostDeployment("bifrost", ns, "", false), secret: "openai", rolls: true},
		// Reads env-key too, but neither opts in nor runs Bifrost.
		{d: secretReader("plain", ns, "env-key", "env", false), secret: "env-key", rolls: false},
	}
	secrets := map[string]*corev1.Secret{}
	for _, name := range []string{"env-key", "envfrom-creds", "volume-creds", "openai"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Data: map[string][]byte{"key": []byte(rollSecretValues[0])}}
		if err := suite.client.Create(ctx, s); err != nil {
			t.Fatalf("create Secret %s: %v", name, err)
		}
		secrets[name] = s
	}
	generation := map[string]int64{}
	for _, r := range readers {
		if err := suite.client.Create(ctx, r.d); err != nil {
			t.Fatalf("create Deployment %s: %v", r.d.Name, err)
		}
		got, stamped := r.d.Spec.Template.Annotations[webhook.AnnotationSecretHash]
		switch want := secretHashOf(t, secrets[r.secret]); {
		case r.rolls && got != want:
			t.Errorf("%s: stamped %s = %q on create, want %q", r.d.Name, webhook.AnnotationSecretHash, got, want)
		case !r.rolls && stamped:
			t.Errorf("%s: stamped %s although it neither opts in nor runs Bifrost", r.d.Name, webhook.AnnotationSecretHash)
		}
		generation[r.d.Name] = r.d.Generation
	}

	// Metadata only: no roll. The controller reconciles every Secret
	// event; give it time to act wrongly.
	for _, s := range secrets {
		s.Labels = map[string]string{"team": "ai"}
		if err := suite.client.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	for _, r := range readers {
		var cur appsv1.Deployment
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(r.d), &cur); err != nil {
			t.Fatal(err)
		}
		if cur.Generation != generation[r.d.Name] {
			t.Errorf("%s rolled on a label change of its Secret (generation %d -> %d)", r.d.Name, generation[r.d.Name], cur.Generation)
		}
	}

	// Data: each covered workload rolls once, to the new hash.
	for _, s := range secrets {
		s.Data = map[string][]byte{"key": []byte(rollSecretValues[1])}
		if err := suite.client.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range readers {
		if !r.rolls {
			continue
		}
		want := secretHashOf(t, secrets[r.secret])
		var cur appsv1.Deployment
		err := waitFor(15*time.Second, func() bool {
			return suite.client.Get(ctx, client.ObjectKeyFromObject(r.d), &cur) == nil &&
				cur.Spec.Template.Annotations[webhook.AnnotationSecretHash] == want
		})
		if err != nil {
			t.Errorf("%s not rolled after its Secret's data changed (hash %q, want %q)", r.d.Name, cur.Spec.Template.Annotations[webhook.AnnotationSecretHash], want)
		}
	}
	// Once: nothing more happens after the roll (both replicas watch).
	time.Sleep(3 * time.Second)
	var events eventsv1.EventList
	if err := suite.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	rolls := 0
	for _, r := range readers {
		var cur appsv1.Deployment
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(r.d), &cur); err != nil {
			t.Fatal(err)
		}
		wantGen := generation[r.d.Name]
		if r.rolls {
			wantGen++
		}
		if cur.Generation != wantGen {
			t.Errorf("%s: generation %d -> %d, want %d", r.d.Name, generation[r.d.Name], cur.Generation, wantGen)
		}
		if _, stamped := cur.Spec.Template.Annotations[webhook.AnnotationSecretHash]; !r.rolls && stamped {
			t.Errorf("%s: stamped although not covered", r.d.Name)
		}
		n := 0
		for _, e := range events.Items {
			if e.Reason == "SecretChanged" && e.Regarding.Name == r.d.Name {
				n++
			}
		}
		if r.rolls && n != 1 || !r.rolls && n != 0 {
			t.Errorf("%s: %d SecretChanged events, want %d", r.d.Name, n, map[bool]int{true: 1}[r.rolls])
		}
		if r.rolls {
			rolls++
		}
	}
	t.Logf("%d workloads rolled once each, %d events in the namespace", rolls, len(events.Items))

	var leaks []string
	for _, v := range rollSecretValues {
		leaks = append(leaks, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	texts := map[string]string{"logs": suite.logs.String(), "second replica's logs": suite.replicaLogs.String()}
	for _, e := range events.Items {
		texts["event "+e.Name] = e.Note
	}
	if !strings.Contains(texts["logs"]+texts["second replica's logs"], "rolled workload for a Secret change") {
		t.Error("neither replica logged the Secret rolls")
	}
	for where, text := range texts {
		for _, leak := range leaks {
			if i := strings.Index(text, leak); i >= 0 {
				// The line around it, with the value itself left out.
				start := strings.LastIndex(text[:i], "\n") + 1
				line := strings.ReplaceAll(text[start:min(len(text), i+len(leak)+200)], leak, "<value>")
				t.Errorf("%s contain Secret material: %.500s", where, line)
			}
		}
	}
}
