package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// generate writes an umbrella chart with n service charts vendored under
// charts/ (a ConfigMap holding a Bifrost config built from values, a
// Deployment, Service, PVC, ServiceAccount and HTTPRoute each, as
// platform teams write them), and a Kustomize base of n services with a
// prod overlay (prefix, namespace, a patch per service, merged
// generators). Every third service carries a mistake, so both paths
// report findings.
func generate(work string, n int) (umbrella, overlay string, err error) {
	umbrella = filepath.Join(work, "platform")
	overlay = filepath.Join(work, "gateway", "overlays", "prod")
	files := map[string]string{}
	files["platform/Chart.yaml"] = "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n"
	var prod strings.Builder
	prod.WriteString("# Production values for every service.\n")
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("svc-%02d", i)
		files["platform/Chart.yaml"] += fmt.Sprintf("  - name: %s\n    version: 0.1.0\n    repository: file://charts/%s\n", name, name)
		dir := "platform/charts/" + name
		files[dir+"/Chart.yaml"] = fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\n", name)
		files[dir+"/values.yaml"] = serviceValues
		files[dir+"/templates/_helpers.tpl"] = serviceHelpers
		files[dir+"/templates/configmap.yaml"] = serviceConfigMap
		files[dir+"/templates/deployment.yaml"] = serviceDeployment
		files[dir+"/templates/service.yaml"] = serviceService
		files[dir+"/templates/pvc.yaml"] = servicePVC
		files[dir+"/templates/serviceaccount.yaml"] = serviceAccount
		files[dir+"/templates/httproute.yaml"] = serviceRoute
		trace := "otel"
		if i%3 == 0 {
			trace = "genai_extension"
		}
		fmt.Fprintf(&prod, "%s:\n  replicaCount: 1\n  config:\n    plugins:\n      - enabled: true\n        name: otel\n        config:\n          service_name: %s\n          trace_type: %s\n          protocol: http\n          collector_url: http://langfuse-web.langfuse:3000/api/public/otel/v1/traces\n          headers:\n            Authorization: env.LANGFUSE_OTEL_AUTH\n            x-langfuse-ingestion-version: \"4\"\n", name, name, trace)
	}
	files["platform/values.yaml"] = "# Each service's defaults live in its own chart.\n"
	files["platform/values-prod.yaml"] = prod.String()

	base := "gateway/base"
	var resources, generators, patches, merges strings.Builder
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("app-%02d", i)
		resources.WriteString("  - " + name + ".yaml\n")
		generators.WriteString(fmt.Sprintf("  - name: %s-config\n    files:\n      - config.json=configs/%s.json\n", name, name))
		files[base+"/"+name+".yaml"] = strings.ReplaceAll(overlayApp, "APP", name)
		files[base+"/configs/"+name+".json"] = overlayConfig
		patches.WriteString(strings.ReplaceAll(overlayPatch, "APP", name))
		if i%2 == 0 {
			merges.WriteString(fmt.Sprintf("  - name: %s-config\n    behavior: merge\n    files:\n      - config.json=configs/%s.json\n", name, name))
			config := overlayConfig
			if i%3 == 0 {
				config = strings.Replace(config, `"providers": {"openai": {`, `"providers": [{"name": "openai", `, 1)
				config = strings.Replace(config, `]}}`, `]}]`, 1)
			}
			files["gateway/overlays/prod/configs/"+name+".json"] = config
		}
	}
	files[base+"/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ai-external\nresources:\n" + resources.String() + "configMapGenerator:\n" + generators.String()
	files["gateway/overlays/prod/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ai-prod\nlabels:\n  - pairs: {env: prod}\nresources:\n  - ../../base\npatches:\n  - path: patches.yaml\nconfigMapGenerator:\n" + merges.String()
	files["gateway/overlays/prod/patches.yaml"] = patches.String()

	for name, text := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", "", err
		}
	}
	return umbrella, overlay, nil
}

const serviceValues = `image:
  repository: maximhq/bifrost
  tag: v1.3.9
replicaCount: 1
podSecurityContext:
  fsGroup: 1000
resources:
  requests: {cpu: 250m, memory: 256Mi}
  limits: {memory: 512Mi}
persistence:
  size: 5Gi
route:
  gateway: llm
  gatewayNamespace: ai-external
config:
  $schema: https://www.getbifrost.ai/schema
  providers:
    openai:
      keys:
        - name: local-vllm
          value: env.OPENAI_API_KEY
          weight: 1
          models: ["glm-5"]
      network_config:
        base_url: http://vllm.ai-inference:8000
`

const serviceHelpers = `{{- define "svc.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end }}
{{- define "svc.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.Version | quote }}
{{- end }}
`

const serviceConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "svc.fullname" . }}-config
  labels:
    {{- include "svc.labels" . | nindent 4 }}
data:
  config.json: |
    {{- toPrettyJson .Values.config | nindent 4 }}
`

const serviceDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "svc.fullname" . }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        {{- include "svc.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    spec:
      serviceAccountName: {{ include "svc.fullname" . }}
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      initContainers:
        - name: config
          image: busybox:1.36
          command: ["sh", "-c", "cp /config/config.json /app/data/config.json"]
          volumeMounts:
            - {name: data, mountPath: /app/data}
            - {name: config, mountPath: /config}
      containers:
        - name: bifrost
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - {name: http, containerPort: 8080}
          env:
            - name: OPENAI_API_KEY
              valueFrom:
                secretKeyRef: {name: {{ include "svc.fullname" . }}-keys, key: openai}
            - name: LANGFUSE_OTEL_AUTH
              valueFrom:
                secretKeyRef: {name: langfuse-otel, key: authorization}
          readinessProbe:
            httpGet: {path: /health, port: http}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          volumeMounts:
            - {name: data, mountPath: /app/data}
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: {{ include "svc.fullname" . }}-data
        - name: config
          configMap:
            name: {{ include "svc.fullname" . }}-config
`

const serviceService = `apiVersion: v1
kind: Service
metadata:
  name: {{ include "svc.fullname" . }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - {name: http, port: 8080, targetPort: http}
`

const servicePVC = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "svc.fullname" . }}-data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: {{ .Values.persistence.size }}
`

const serviceAccount = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "svc.fullname" . }}
  labels:
    {{- include "svc.labels" . | nindent 4 }}
`

const serviceRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {{ include "svc.fullname" . }}
spec:
  parentRefs:
    - name: {{ .Values.route.gateway }}
      namespace: {{ .Values.route.gatewayNamespace }}
  rules:
    - matches:
        - path: {type: PathPrefix, value: /{{ .Chart.Name }}}
      backendRefs:
        - name: {{ include "svc.fullname" . }}
          port: 8080
`

const overlayApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: APP
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels: {app: APP}
  template:
    metadata:
      labels: {app: APP}
    spec:
      securityContext:
        fsGroup: 1000
      initContainers:
        - name: config
          image: busybox:1.36
          command: ["sh", "-c", "cp /config/config.json /app/data/config.json"]
          volumeMounts:
            - {name: data, mountPath: /app/data}
            - {name: config, mountPath: /config}
      containers:
        - name: bifrost
          image: maximhq/bifrost:v1.3.9
          ports:
            - {name: http, containerPort: 8080}
          volumeMounts:
            - {name: data, mountPath: /app/data}
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: APP-data
        - name: config
          configMap:
            name: APP-config
---
apiVersion: v1
kind: Service
metadata:
  name: APP
spec:
  selector: {app: APP}
  ports:
    - {name: http, port: 8080, targetPort: http}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: APP-data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 5Gi
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: APP
spec:
  parentRefs:
    - name: llm
  rules:
    - backendRefs:
        - name: APP
          port: 8080
`

const overlayPatch = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: APP
spec:
  template:
    spec:
      containers:
        - name: bifrost
          resources:
            requests: {cpu: 500m, memory: 512Mi}
---
`

const overlayConfig = `{
  "$schema": "https://www.getbifrost.ai/schema",
  "providers": {"openai": {
    "keys": [{"name": "local-vllm", "value": "env.OPENAI_API_KEY", "weight": 1, "models": ["glm-5"]}]}}
}
`
