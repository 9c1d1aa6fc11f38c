// Package corpus writes manifest trees of N kgateway -> Bifrost -> vLLM
// stacks for benchmarking `gjallar lint` (and conftest, and the parse floor)
// at a known size, and hands the same objects to in-process benchmarks.
// Every stack is written the way the compliant example is, and one stack in
// WrongEvery carries one of the mistakes gjallar's core rules catch, so the
// linters have findings to report and the benchmark measures the reporting
// path too. The command is bench/cmd/corpus.
package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

// ObjectsPerStack is how many objects one stack writes: PVC, ConfigMap,
// Bifrost Deployment, Service, Gateway, HTTPRoute and the app Deployment.
const ObjectsPerStack = 7

// PlatformObjects are written once per corpus: the GatewayClass and its
// kgateway GatewayParameters that every stack's Gateway uses.
const PlatformObjects = 2

// Layout is how stacks are spread over files.
type Layout string

const (
	// LayoutSplit writes three files per stack (bifrost.yaml, gateway.yaml,
	// app.yaml) in a directory per stack: how teams usually keep them.
	LayoutSplit Layout = "split"
	// LayoutObject writes one file per object: the most files.
	LayoutObject Layout = "object"
	// LayoutBundle writes BundleStacks stacks per multi-document file: the
	// fewest files, for telling per-file from per-object costs apart.
	LayoutBundle Layout = "bundle"
)

// BundleStacks is how many stacks one bundle file holds (700 objects,
// about 0.7 MB: well under lint's per-file limit).
const BundleStacks = 100

// Defect is a mistake put into a stack on purpose, named after the rule
// that catches it.
type Defect string

const (
	DefectNone          Defect = ""
	DefectProvidersList Defect = "bifrost-providers-map"
	DefectTraceType     Defect = "bifrost-otel-trace-type"
	DefectFSGroup       Defect = "bifrost-fsgroup"
	DefectPublicNLB     Defect = "public-nlb-cloudfront"
	DefectModelPrefix   Defect = "model-provider-prefix"
	DefectConfigHash    Defect = "config-rollout-hash"
)

// Defects is the order in which wrong stacks take their mistake.
var Defects = []Defect{DefectProvidersList, DefectTraceType, DefectFSGroup, DefectPublicNLB, DefectModelPrefix, DefectConfigHash}

// Doc is the index in StackDocs of the object the defect is written into.
func (d Defect) Doc() int {
	switch d {
	case DefectProvidersList, DefectTraceType:
		return DocConfigMap
	case DefectFSGroup, DefectConfigHash:
		return DocBifrost
	case DefectPublicNLB:
		return DocGateway
	case DefectModelPrefix:
		return DocApp
	}
	return -1
}

// Indexes of a stack's objects in StackDocs.
const (
	DocPVC = iota
	DocConfigMap
	DocBifrost
	DocService
	DocGateway
	DocHTTPRoute
	DocApp
)

// StackNamespace is the namespace stack i lives in.
func StackNamespace(i int) string { return fmt.Sprintf("llm-%05d", i) }

// Options says what to write.
type Options struct {
	Stacks int
	Out    string
	Layout Layout
	// WrongEvery puts a defect into every WrongEvery-th stack (0: none).
	WrongEvery int
}

// Summary is what was written.
type Summary struct {
	Stacks  int            `json:"stacks"`
	Objects int            `json:"objects"`
	Files   int            `json:"files"`
	Bytes   int64          `json:"bytes"`
	Defects map[Defect]int `json:"defects"`
}

// StacksFor is how many stacks make about n objects.
func StacksFor(n int) int {
	return max(1, (n-PlatformObjects+ObjectsPerStack-1)/ObjectsPerStack)
}

// Write generates the corpus.
func Write(o Options) (*Summary, error) {
	switch o.Layout {
	case LayoutSplit, LayoutObject, LayoutBundle:
	default:
		return nil, fmt.Errorf("unknown layout %q", o.Layout)
	}
	if entries, err := os.ReadDir(o.Out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty", o.Out)
	}
	w := &writer{out: o.Out, sum: &Summary{Stacks: o.Stacks, Defects: map[Defect]int{}}}
	w.file("platform/gatewayclass.yaml", PlatformDocs())
	var bundle []string
	for i := 0; i < o.Stacks; i++ {
		d := DefectFor(i, o.WrongEvery)
		if d != DefectNone {
			w.sum.Defects[d]++
		}
		st := newStack(i, d)
		dir := fmt.Sprintf("stacks/%s/%s", st.team, st.ns)
		switch o.Layout {
		case LayoutSplit:
			w.file(dir+"/bifrost.yaml", st.bifrostDocs())
			w.file(dir+"/gateway.yaml", st.gatewayDocs())
			w.file(dir+"/app.yaml", st.appDocs())
		case LayoutObject:
			docs := StackDocs(i, d)
			names := []string{"pvc", "configmap", "deployment", "service", "gateway", "httproute", "app"}
			for j, doc := range docs {
				w.file(fmt.Sprintf("%s/%d-%s.yaml", dir, j, names[j]), []string{doc})
			}
		case LayoutBundle:
			bundle = append(bundle, st.bifrostDocs()...)
			bundle = append(bundle, st.gatewayDocs()...)
			bundle = append(bundle, st.appDocs()...)
			if (i+1)%BundleStacks == 0 || i == o.Stacks-1 {
				w.file(fmt.Sprintf("bundles/stacks-%06d.yaml", i/BundleStacks*BundleStacks), bundle)
				bundle = nil
			}
		}
	}
	return w.sum, w.err
}

type writer struct {
	out string
	sum *Summary
	err error
}

// file writes docs as one multi-document YAML file.
func (w *writer) file(name string, docs []string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.out, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = err
		return
	}
	text := strings.Join(docs, "---\n")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		w.err = err
		return
	}
	w.sum.Files++
	w.sum.Objects += len(docs)
	w.sum.Bytes += int64(len(text))
}

// DefectFor is the mistake stack i carries when every wrongEvery-th stack
// is wrong (wrongEvery 0: none).
func DefectFor(i, wrongEvery int) Defect {
	if wrongEvery > 0 && i%wrongEvery == wrongEvery-1 {
		return Defects[(i/wrongEvery)%len(Defects)]
	}
	return DefectNone
}

// StackDocs returns stack i's documents as YAML text, in the order PVC,
// ConfigMap, Bifrost Deployment, Service, Gateway, HTTPRoute, app
// Deployment, with defect d written into it.
func StackDocs(i int, d Defect) []string {
	st := newStack(i, d)
	return append(append(st.bifrostDocs(), st.gatewayDocs()...), st.appDocs()...)
}

// PlatformDocs returns the GatewayClass and GatewayParameters every stack's
// Gateway uses.
func PlatformDocs() []string {
	return []string{`# The platform team's kgateway class: every stack's Gateway uses it.
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: kgateway
spec:
  controllerName: kgateway.dev/kgateway
  parametersRef:
    group: gateway.kgateway.dev
    kind: GatewayParameters
    name: cloudfront-origin
    namespace: kgateway-system
`, `apiVersion: gateway.kgateway.dev/v1alpha1
kind: GatewayParameters
metadata:
  name: cloudfront-origin
  namespace: kgateway-system
spec:
  kube:
    service:
      type: LoadBalancer
      extraAnnotations:
        service.beta.kubernetes.io/aws-load-balancer-type: external
        service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
`}
}

// stack is one team's Bifrost gateway with its route and one client app.
type stack struct {
	i      int
	team   string
	ns     string
	host   string
	defect Defect
	// models and providers vary a little between stacks, so configs are
	// not all the same size.
	models    []string
	providers int
}

var teams = []string{"search", "support", "assist", "docs", "billing", "growth", "risk", "platform"}

func newStack(i int, d Defect) *stack {
	models := []string{"glm-5", "qwen3-32b", "llama-3.3-70b-instruct", "gpt-oss-120b"}
	return &stack{
		i:         i,
		team:      teams[i%len(teams)],
		ns:        StackNamespace(i),
		host:      fmt.Sprintf("llm-%05d.ai.example.com", i),
		defect:    d,
		models:    models[:1+i%len(models)],
		providers: 1 + i%3,
	}
}

// bifrostConfig is the config.json text, ending in a newline as a YAML
// block scalar's value does.
func (s *stack) bifrostConfig() string {
	var b strings.Builder
	quoted := make([]string, len(s.models))
	for i, m := range s.models {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	models := strings.Join(quoted, ", ")
	type provider struct{ name, body string }
	provs := []provider{{"openai", fmt.Sprintf(`"keys": [{"name": "vllm-%05d", "value": "env.VLLM_API_KEY", "weight": 1.0, "models": [%s]}],
      "network_config": {"base_url": "http://vllm-service.ai-inference:8000", "default_request_timeout_in_seconds": 300},
      "concurrency_and_buffer_size": {"concurrency": 100, "buffer_size": 500}`, s.i, models)}}
	if s.providers > 1 {
		provs = append(provs, provider{"anthropic", `"keys": [{"name": "anthropic-prod", "value": "env.ANTHROPIC_API_KEY", "weight": 1.0, "models": ["claude-sonnet-4-5"]}]`})
	}
	if s.providers > 2 {
		provs = append(provs, provider{"mistral", `"keys": [{"name": "mistral-prod", "value": "env.MISTRAL_API_KEY", "weight": 0.5, "models": ["*"]}]`})
	}
	b.WriteString("{\n  \"$schema\": \"https://www.getbifrost.ai/schema\",\n")
	b.WriteString("  \"client\": {\"drop_excess_requests\": false, \"initial_pool_size\": 300, \"enable_logging\": true},\n")
	if s.defect == DefectProvidersList {
		b.WriteString("  \"providers\": [\n")
		for i, p := range provs {
			fmt.Fprintf(&b, "    {\n      \"name\": %q,\n      %s\n    }", p.name, p.body)
			if i < len(provs)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  ],\n")
	} else {
		b.WriteString("  \"providers\": {\n")
		for i, p := range provs {
			fmt.Fprintf(&b, "    %q: {\n      %s\n    }", p.name, p.body)
			if i < len(provs)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  },\n")
	}
	traceType := "otel"
	if s.defect == DefectTraceType {
		traceType = "genai_extension"
	}
	fmt.Fprintf(&b, `  "plugins": [{
    "enabled": true,
    "name": "otel",
    "config": {
      "service_name": "bifrost-%s",
      "trace_type": %q,
      "protocol": "http",
      "collector_url": "http://langfuse-web.langfuse.svc.cluster.local:3000/api/public/otel/v1/traces",
      "headers": {
        "Authorization": "env.LANGFUSE_OTEL_AUTH",
        "x-langfuse-ingestion-version": "4"
      }
    }
  }]
}
`, s.ns, traceType)
	return b.String()
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(prefix + l)
	}
	return b.String()
}

// configHash is the hash the Bifrost Deployment carries: the value gjallar
// computes, so compliant stacks lint clean.
func (s *stack) configHash() string {
	cm := rules.NewObject(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "bifrost-gateway-config", "namespace": s.ns},
		"data":     map[string]any{"config.json": s.bifrostConfig()},
	})
	return rollout.ConfigHash([]*rules.Object{cm})
}

func (s *stack) labels(component string) string {
	return fmt.Sprintf(`    app.kubernetes.io/name: %s
    app.kubernetes.io/part-of: llm-gateway
    app.kubernetes.io/managed-by: argocd
    team: %s
`, component, s.team)
}

func (s *stack) bifrostDocs() []string {
	pvc := fmt.Sprintf(`# Bifrost in gateway mode for team %s: PVC, config, Deployment, Service.
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: bifrost-data
  namespace: %s
  labels:
%sspec:
  accessModes:
    - ReadWriteOnce
  storageClassName: gp3
  resources:
    requests:
      storage: 1Gi
`, s.team, s.ns, s.labels("bifrost"))
	cm := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: bifrost-gateway-config
  namespace: %s
  labels:
%sdata:
  config.json: |
%s`, s.ns, s.labels("bifrost"), indent(s.bifrostConfig(), "    "))
	hash := ""
	switch s.defect {
	case DefectConfigHash:
		hash = `        gjallar.dev/config-hash: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
`
	default:
		hash = fmt.Sprintf("        gjallar.dev/config-hash: %q\n", s.configHash())
	}
	fsGroup := "      securityContext:\n        fsGroup: 1000\n        runAsNonRoot: true\n        runAsUser: 1000\n"
	if s.defect == DefectFSGroup {
		fsGroup = "      securityContext:\n        runAsNonRoot: true\n        runAsUser: 1000\n"
	}
	deploy := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: bifrost
  namespace: %[1]s
  labels:
%[2]sspec:
  replicas: 1
  revisionHistoryLimit: 5
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: bifrost
  template:
    metadata:
      labels:
        app: bifrost
        team: %[3]s
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
%[4]s    spec:
%[5]s      serviceAccountName: bifrost
      initContainers:
        - name: setup
          image: busybox:1.36
          command: ["sh", "-c", "cp /config/config.json /app/data/config.json"]
          volumeMounts:
            - {name: bifrost-data, mountPath: /app/data}
            - {name: gateway-config, mountPath: /config}
      containers:
        - name: bifrost
          image: maximhq/bifrost:v1.3.9
          args: ["-port", "8080"]
          env:
            - name: VLLM_API_KEY
              valueFrom:
                secretKeyRef: {name: vllm-api-key, key: key}
            - name: ANTHROPIC_API_KEY
              valueFrom:
                secretKeyRef: {name: provider-keys, key: anthropic}
            - name: MISTRAL_API_KEY
              valueFrom:
                secretKeyRef: {name: provider-keys, key: mistral}
            - name: LANGFUSE_OTEL_AUTH
              valueFrom:
                secretKeyRef: {name: langfuse-otel, key: authorization}
          ports:
            - {containerPort: 8080, name: http}
          readinessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 10
          livenessProbe:
            httpGet: {path: /health, port: http}
            initialDelaySeconds: 15
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {memory: 1Gi}
          volumeMounts:
            - {name: bifrost-data, mountPath: /app/data}
      volumes:
        - name: bifrost-data
          persistentVolumeClaim:
            claimName: bifrost-data
        - name: gateway-config
          configMap:
            name: bifrost-gateway-config
`, s.ns, s.labels("bifrost"), s.team, hash, fsGroup)
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: bifrost-service
  namespace: %s
  labels:
%sspec:
  type: ClusterIP
  selector:
    app: bifrost
  ports:
    - name: http
      port: 8080
      targetPort: 8080
`, s.ns, s.labels("bifrost"))
	return []string{pvc, cm, deploy, svc}
}

func (s *stack) gatewayDocs() []string {
	prefixList := "      service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists: pl-3b927c52\n"
	if s.defect == DefectPublicNLB {
		prefixList = ""
	}
	gw := fmt.Sprintf(`# The stack's public entry: an NLB that only CloudFront reaches.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: llm-gateway
  namespace: %s
  labels:
%sspec:
  gatewayClassName: kgateway
  infrastructure:
    annotations:
      service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
%s  listeners:
    - name: http
      protocol: HTTP
      port: 80
      hostname: %s
      allowedRoutes:
        namespaces:
          from: Same
`, s.ns, s.labels("gateway"), prefixList, s.host)
	route := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bifrost
  namespace: %s
  labels:
%sspec:
  parentRefs:
    - name: llm-gateway
  hostnames:
    - %s
  rules:
    - matches:
        - path: {type: PathPrefix, value: /v1}
      timeouts:
        request: 300s
      backendRefs:
        - name: bifrost-service
          port: 8080
`, s.ns, s.labels("gateway"), s.host)
	return []string{gw, route}
}

func (s *stack) appDocs() []string {
	model := "openai/" + s.models[len(s.models)-1]
	if s.defect == DefectModelPrefix {
		model = s.models[len(s.models)-1]
	}
	app := fmt.Sprintf(`# A client of the gateway, through the OpenAI SDK.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat-app
  namespace: %s
  labels:
%sspec:
  replicas: 3
  selector:
    matchLabels: {app: chat-app}
  template:
    metadata:
      labels: {app: chat-app, team: %s}
    spec:
      containers:
        - name: app
          image: registry.example.com/%s/chat-app:1.4.%d
          ports:
            - {containerPort: 3000, name: http}
          env:
            - {name: OPENAI_BASE_URL, value: "http://bifrost-service:8080/v1"}
            - {name: OPENAI_API_KEY, valueFrom: {secretKeyRef: {name: chat-app, key: openai}}}
            - {name: CHAT_MODEL, value: %s}
            - {name: EMBEDDING_MODEL, value: openai/text-embedding-3-small}
            - {name: LOG_LEVEL, value: info}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 512Mi}
`, s.ns, s.labels("chat-app"), s.team, s.team, s.i%10, model)
	return []string{app}
}

// sortedDefects lists the defect counts in a stable order, for tests.
func (s *Summary) sortedDefects() []string {
	var out []string
	for d, n := range s.Defects {
		out = append(out, fmt.Sprintf("%s=%d", d, n))
	}
	sort.Strings(out)
	return out
}
