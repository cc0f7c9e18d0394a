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

{{/* An image reference from {registry, repository, tag, digest}: call with (list $ "operator"). */}}
{{- define "hotline.image" -}}
{{- $root := index . 0 -}}
{{- $image := index $root.Values.images (index . 1) -}}
{{- $ref := $image.repository -}}
{{- if $image.registry }}{{ $ref = printf "%s/%s" $image.registry $ref }}{{ end -}}
{{- if $image.tag }}{{ $ref = printf "%s:%s" $ref $image.tag }}{{ end -}}
{{- if $image.digest }}{{ $ref = printf "%s@%s" $ref $image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{/* Every Hotline pod: non-root, the runtime's seccomp profile. */}}
{{- define "hotline.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{/* Every Hotline container: no privilege, no capabilities, a read-only root. */}}
{{- define "hotline.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}

{{/* nodeSelector, tolerations and affinity of one workload's values. */}}
{{- define "hotline.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod network, or the node's where Kafka and Cassandra listen on the node. */}}
{{- define "hotline.hostNetwork" -}}
{{- if .Values.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- end -}}

{{/* The first Cassandra contact point with the native port. */}}
{{- define "hotline.cassandra" -}}
{{- $first := first .Values.cassandra.contactPoints -}}
{{- if contains ":" $first }}{{ $first }}{{ else }}{{ printf "%s:9042" $first }}{{ end -}}
{{- end -}}

{{/* The caller-token key, from its Secret (never in values). */}}
{{- define "hotline.callerTokenEnv" -}}
- name: HOTLINE_CALLER_TOKEN_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.callerTokenKey.secretRef }}, key: {{ .Values.callerTokenKey.key }}}
{{- end -}}

{{/* The IVR flows: their ConfigMap, its file names and its data. */}}
{{- define "hotline.flowsConfigMap" -}}
{{- printf "%s-flows" (include "hotline.fullname" .) -}}
{{- end -}}

{{- define "hotline.flowFiles" -}}
{{- $files := list -}}
{{- range $name, $_ := .Values.mediaNodes.flows -}}
{{- $files = append $files (printf "%s.yaml" $name) -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{- define "hotline.flowsData" -}}
{{- range $name, $flow := .Values.mediaNodes.flows }}
{{ $name }}.yaml: |
  {{- toYaml $flow | nindent 2 }}
{{- end }}
{{- end -}}

{{/* On the node's network a new pod cannot bind its ports until the old one is gone. */}}
{{- define "hotline.hostNetworkStrategy" -}}
{{- if .Values.hostNetwork }}
strategy:
  type: RollingUpdate
  rollingUpdate: {maxSurge: 0, maxUnavailable: 1}
{{- end }}
{{- end -}}
