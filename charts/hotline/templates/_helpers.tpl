{{/* Names and labels shared by every template. */}}
{{- define "hotline.fullname" -}}
{{- printf "%s-%s" .Release.Name .Values.site.name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "hotline.labels" -}}
app.kubernetes.io/name: hotline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: hotline
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
hotline.dev/site: {{ .Values.site.name }}
{{- end -}}

{{- define "hotline.selector" -}}
app.kubernetes.io/name: hotline
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
