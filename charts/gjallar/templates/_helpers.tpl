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

{{/* Seconds the kubelet waits after SIGTERM: the drain, the requests in flight, a margin. */}}
{{- define "gjallar.terminationGracePeriodSeconds" -}}
{{- add (int .Values.webhook.shutdownDelaySeconds) (int .Values.webhook.timeoutSeconds) 10 -}}
{{- end -}}

{{/* GOMEMLIMIT: 80% of resources.limits.memory in bytes; empty without a limit. */}}
{{- define "gjallar.goMemLimit" -}}
{{- with ((.Values.resources).limits).memory -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- $bytes := 0 -}}
{{- if regexMatch "^[0-9]+$" $q -}}
{{- $bytes = atoi $q -}}
{{- else if regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)$" $q -}}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|k|M|G|T)$" $q -}}
{{- $bytes = mul (atoi (trimSuffix $unit $q)) (get $units $unit) -}}
{{- else -}}
{{- fail (printf "resources.limits.memory %q: write a whole number with an optional Ki, Mi, Gi, Ti, k, M, G or T suffix (GOMEMLIMIT is derived from it)" $q) -}}
{{- end -}}
{{- div (mul $bytes 8) 10 -}}
{{- end -}}
{{- end -}}

{{/* secrets.access, checked: none, namespaced or cluster. */}}
{{- define "gjallar.secretAccess" -}}
{{- $a := toString .Values.secrets.access -}}
{{- if not (has $a (list "none" "namespaced" "cluster")) -}}
{{- fail (printf "secrets.access %q: want none, namespaced or cluster" $a) -}}
{{- end -}}
{{- if and (eq $a "namespaced") (not .Values.secrets.namespaces) -}}
{{- fail "secrets.access namespaced needs secrets.namespaces: the namespaces whose Secrets gjallar may read" -}}
{{- end -}}
{{- $a -}}
{{- end -}}
