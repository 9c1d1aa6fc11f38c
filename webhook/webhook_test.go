package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

const arrayConfig = `{"providers": [{"name": "openai", "keys": [{"name": "k", "value": "env.OPENAI_KEY", "weight": 1, "models": ["*"]}]}]}`

func badConfigMap(name, ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data:       map[string]string{"config.json": arrayConfig},
	}
}

func bifrostConfigMap(name, ns, model string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string]string{"config.json": fmt.Sprintf(
			`{"providers": {"openai": {"keys": [{"name": "k", "value": "env.OPENAI_KEY", "weight": 1, "models": [%q]}]}}}`, model)},
	}
}

func rulesGK(s string) schema.GroupKind { return schema.ParseGroupKind(s) }

func namespace(t *testing.T, name string) string {
	t.Helper()
	err := suite.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return name
}

func bifrostDeployment(name, ns, configMap string, pvc bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "bifrost", Image: "maximhq/bifrost:v1.3.9", Env: []corev1.EnvVar{
			// the key the test configs reference (bifrost-env-refs)
			{Name: "OPENAI_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "openai"}, Key: "key"}}},
		}}},
	}
	if configMap != "" {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}})
	}
	if pvc {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name + "-data"}}})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func TestArrayProvidersDenied(t *testing.T) {
	requireEnv(t)
	ns := namespace(t, "deny-providers")
	err := suite.client.Create(context.Background(), badConfigMap("bifrost-config", ns))
	if err == nil || !apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "denied") {
		t.Fatalf("create = %v, want a denial", err)
	}
	for _, want := range []string{"bifrost-providers-map: providers is a list", `(data["config.json"]:providers)`, "ConfigMap deny-providers/bifrost-config"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial %q lacks %q", err.Error(), want)
		}
	}
}

func TestBifrostOnPVCWithoutFSGroupDenied(t *testing.T) {
	requireEnv(t)
	ns := namespace(t, "deny-fsgroup")
	err := suite.client.Create(context.Background(), bifrostDeployment("bifrost", ns, "", true))
	if err == nil || !strings.Contains(err.Error(), "bifrost-fsgroup:") || !strings.Contains(err.Error(), "spec.template.spec.securityContext.fsGroup") {
		t.Fatalf("create = %v, want a bifrost-fsgroup denial", err)
	}
	d := bifrostDeployment("bifrost", ns, "", true)
	d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](1000)}
	if err := suite.client.Create(context.Background(), d); err != nil {
		t.Fatalf("with fsGroup: %v", err)
	}
}

func TestWarningReachesClientAndObjectIsAdmitted(t *testing.T) {
	requireEnv(t)
	ns := namespace(t, "warn")
	suite.warnings.take()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: ns, Annotations: map[string]string{
			"service.beta.kubernetes.io/aws-load-balancer-scheme":          "internet-facing",
			"service.beta.kubernetes.io/aws-load-balancer-security-groups": "sg-0123456789abcdef0",
		}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr.To("service.k8s.aws/nlb"), Ports: []corev1.ServicePort{{Port: 443}}},
	}
	if err := suite.client.Create(context.Background(), svc); err != nil {
		t.Fatalf("create = %v, want admitted", err)
	}
	warnings := strings.Join(suite.warnings.take(), "\n")
	if !strings.Contains(warnings, "gjallar public-nlb-cloudfront: cannot verify") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestDeploymentIsStampedAndRolledOnConfigChange(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "rollout")
	cm := bifrostConfigMap("gateway-config", ns, "glm-5")
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "ConfigMap", ns, cm.Name, cm.ResourceVersion)
	d := bifrostDeployment("bifrost", ns, cm.Name, false)
	if err := suite.client.Create(ctx, d); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	want := hashOf(t, cm)
	if got := d.Spec.Template.Annotations[rollout.AnnotationConfigHash]; got != want {
		t.Fatalf("stamped hash = %q, want %q", got, want)
	}
	gen := d.Generation

	cm.Data["config.json"] = bifrostConfigMap("", "", "glm-5-turbo").Data["config.json"]
	if err := suite.client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	want = hashOf(t, cm)
	var current appsv1.Deployment
	err := waitFor(10*time.Second, func() bool {
		if err := suite.client.Get(ctx, client.ObjectKeyFromObject(d), &current); err != nil {
			return false
		}
		return current.Spec.Template.Annotations[rollout.AnnotationConfigHash] == want
	})
	if err != nil {
		t.Fatalf("the Deployment's hash never became %s (have %s)", want, current.Spec.Template.Annotations[rollout.AnnotationConfigHash])
	}
	// Once: the pod template changed exactly one more time and stays put.
	time.Sleep(2 * time.Second)
	if err := suite.client.Get(ctx, client.ObjectKeyFromObject(d), &current); err != nil {
		t.Fatal(err)
	}
	if current.Generation != gen+1 {
		t.Errorf("generation went %d -> %d, want exactly one roll", gen, current.Generation)
	}
	var events eventsv1.EventList
	if err := suite.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events.Items {
		if e.Reason == "ConfigChanged" && e.Regarding.Name == d.Name && strings.Contains(e.Note, want) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d ConfigChanged events for the roll, want 1 (both replicas must not act)", n)
	}
}

func hashOf(t *testing.T, cm *corev1.ConfigMap) string {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		t.Fatal(err)
	}
	return rollout.ConfigHash([]*rules.Object{rules.NewObject(content)})
}

func TestDryRunDeniedWithoutSideEffect(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "dry-run")
	err := suite.client.Create(ctx, badConfigMap("c", ns), client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "bifrost-providers-map") {
		t.Fatalf("dry-run create = %v, want the same denial", err)
	}
	var cm corev1.ConfigMap
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "c"}, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("after a dry run: get = %v, want NotFound", err)
	}
	ok := bifrostConfigMap("ok", ns, "glm-5")
	if err := suite.client.Create(ctx, ok, client.DryRunAll); err != nil {
		t.Errorf("dry-run of a good config: %v", err)
	}
}

func TestSuppressedObjectAdmitted(t *testing.T) {
	requireEnv(t)
	ns := namespace(t, "suppressed")
	cm := badConfigMap("legacy", ns)
	cm.Annotations = map[string]string{rules.AnnotationIgnore: "bifrost-providers-map"}
	if err := suite.client.Create(context.Background(), cm); err != nil {
		t.Errorf("suppressed object denied: %v", err)
	}
}

func TestIgnoredNamespaceNotSentToWebhook(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "opted-out", Labels: map[string]string{"gjallar.dev/ignore": "true"}}}
	if err := suite.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := suite.client.Create(ctx, badConfigMap("c", ns.Name)); err != nil {
		t.Errorf("object in an ignored namespace denied: %v", err)
	}
	// Unrelated ConfigMaps never reach the webhook (matchConditions).
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: namespace(t, "plain")}, Data: map[string]string{"a": "b"}}
	if err := suite.client.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
}

func TestConfigReload(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "reload")
	write := func(s string) {
		if err := writeFileAtomic(suite.configFile, s); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  bifrost-providers-map: {severity: warning}\n")
	defer func() {
		// Restore, and wait until it applies, so later tests see the defaults.
		write("rules: {}\n")
		if err := waitFor(10*time.Second, func() bool {
			return suite.client.Create(ctx, badConfigMap("c", ns), client.DryRunAll) != nil
		}); err != nil {
			t.Fatal("restoring the config never took effect")
		}
	}()
	err := waitFor(10*time.Second, func() bool {
		return suite.client.Create(ctx, badConfigMap("c", ns), client.DryRunAll) == nil
	})
	if err != nil {
		t.Fatal("config change never took effect")
	}
	// A broken config keeps the last good one.
	write("rules: [\n")
	time.Sleep(time.Second)
	if err := suite.client.Create(ctx, badConfigMap("c", ns), client.DryRunAll); err != nil {
		t.Errorf("a broken config file changed the behaviour: %v", err)
	}
}

// TestNoSecretsInMessagesOrLogs sends a Secret whose Bifrost config holds
// real-looking keys in a broken config: the denial names what is wrong and
// neither the answer nor gjallar's logs contain the key.
func TestNoSecretsInMessagesOrLogs(t *testing.T) {
	requireEnv(t)
	ns := namespace(t, "secrets")
	const key = "sk-live-9f8e7d6c5b4a3210SECRET"
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bifrost", Namespace: ns},
		StringData: map[string]string{"config.json": `{"providers": [{"name": "openai", "keys": [{"name": "k", "value": "` + key + `", "weight": "high", "models": ["*"]}]}],
 "plugins": [{"enabled": true, "name": "otel", "config": {"trace_type": "genai_extension", "protocol": "http", "collector_url": "http://langfuse:3000/api/public/otel/v1/traces", "headers": {"Authorization": "Basic cGstbGYtMTIzOnNrLWxmLTQ1Ng=="}}}]}`},
	}
	err := suite.client.Create(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "bifrost-providers-map") {
		t.Fatalf("create = %v, want a denial", err)
	}
	for where, text := range map[string]string{"denial": err.Error(), "logs": suite.logs.String(), "second replica's logs": suite.replicaLogs.String()} {
		for _, secret := range []string{key, "cGstbGYtMTIzOnNrLWxmLTQ1Ng", "sk-lf-456"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains secret material %q", where, secret)
			}
		}
	}
}

// TestOwnedReplicaSetNotChecked: a ReplicaSet made by a Deployment was
// checked through its owner; its controller's writes are not sent to the
// webhook, while a bare ReplicaSet is checked.
func TestOwnedReplicaSetNotChecked(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "owned")
	d := bifrostDeployment("bifrost", ns, "", true)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "bifrost-5d9f", Namespace: ns},
		Spec:       appsv1.ReplicaSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	err := suite.client.Create(ctx, rs.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), "bifrost-fsgroup") {
		t.Fatalf("bare ReplicaSet: %v, want a bifrost-fsgroup denial", err)
	}
	rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "bifrost", UID: "0d1e2f3a-aaaa-bbbb-cccc-000000000001"}}
	if err := suite.client.Create(ctx, rs); err != nil {
		t.Errorf("owned ReplicaSet: %v", err)
	}
}

// TestFactsFollowTheCluster: facts derived from the whole cache (here the
// providers declared in Bifrost configs) are kept across requests, and must
// change as soon as the cache does.
func TestFactsFollowTheCluster(t *testing.T) {
	requireEnv(t)
	ctx := context.Background()
	ns := namespace(t, "facts")
	// A routing rule falls back to a custom provider declared in another
	// config: Bifrost drops the fallback until that provider exists.
	routing := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "routing", Namespace: ns},
		Data: map[string]string{"config.json": `{"providers": {"openai": {"keys": [{"name": "k", "value": "env.OPENAI_KEY", "weight": 1, "models": ["*"]}]}},
			"governance": {"routing_rules": [{"name": "r", "fallbacks": ["inhouse/glm-5"]}]}}`},
	}
	dryRun := func() error { return suite.client.Create(ctx, routing.DeepCopy(), client.DryRunAll) }
	// Twice, so the second answer comes from the kept fact.
	for range 2 {
		if err := dryRun(); err == nil || !strings.Contains(err.Error(), "model-provider-prefix") {
			t.Fatalf("before the provider is declared: %v, want a model-provider-prefix denial", err)
		}
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "inhouse-provider", Namespace: ns},
		Data: map[string]string{"config.json": `{"providers": {"inhouse": {"keys": [{"name": "k", "value": "env.INHOUSE_KEY", "weight": 1, "models": ["*"]}],
			"custom_provider_config": {"base_provider_type": "openai"}}}}`},
	}
	if err := suite.client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, "ConfigMap", ns, cm.Name, cm.ResourceVersion)
	if err := waitFor(10*time.Second, func() bool { return dryRun() == nil }); err != nil {
		t.Fatalf("the provider declared in ConfigMap %s never reached the webhook's facts: %v", cm.Name, dryRun())
	}
}
