{{- define "gjallar.name" -}}gjallar{{- end -}}

{{- define "gjallar.fullname" -}}
{{- if contains "gjallar" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-gjallar" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gjallar.labels" -}}
app.kubernetes.io/name: gjallar
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gjallar.selectorLabels" -}}
app.kubernetes.io/name: gjallar
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gjallar.certSecret" -}}{{ include "gjallar.fullname" . }}-cert{{- end -}}

{{/* Namespaces never sent to the webhooks. */}}
{{- define "gjallar.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        - kube-system
        - {{ .Release.Namespace }}
        {{- range .Values.webhook.excludedNamespaces }}
        - {{ . }}
        {{- end }}
    - key: gjallar.dev/ignore
      operator: NotIn
      values: ["true"]
{{- end -}}

{{- define "gjallar.clientConfig" -}}
clientConfig:
  service:
    name: {{ include "gjallar.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
{{- end -}}

{{- define "gjallar.caAnnotation" -}}
{{- if .Values.certificates.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "gjallar.fullname" . }}
{{- end }}
{{- end -}}
