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

{{/* The edge's trunk allow-list as a Kamailio condition; 0 (nothing) when empty. */}}
{{- define "hotline.edge.trunkCheck" -}}
{{- $checks := list -}}
{{- range .Values.edge.trunkAllowList -}}
{{- $checks = append $checks (printf "is_in_subnet(\"$si\", \"%s\")" .) -}}
{{- end -}}
{{- if $checks }}{{ join " || " $checks }}{{ else }}0{{ end -}}
{{- end -}}

{{/* The ConfigMap the operator writes the edge's dispatcher list into (spec.edge). */}}
{{- define "hotline.edge.dispatcherConfigMap" -}}
{{- printf "%s-edge-dispatcher" (include "hotline.fullname" .) -}}
{{- end -}}
