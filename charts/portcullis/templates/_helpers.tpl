{{/* Labels every object of the release carries. */}}
{{- define "portcullis.labels" -}}
app.kubernetes.io/name: portcullis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: portcullis
app.kubernetes.io/component: operator
{{- end }}

{{/* A file of operator/deploy (linked into files/), in the release's namespace: one source for the chart and the tests. */}}
{{- define "portcullis.deployFile" -}}
{{- $root := index . 0 -}}
{{- $file := index . 1 -}}
{{- $root.Files.Get $file | replace "portcullis-system" $root.Release.Namespace -}}
{{- end }}

{{- define "portcullis.brokerUrl" -}}
{{- .Values.operator.brokerUrl | default (printf "https://portcullis-operator.%s.svc:8443" .Release.Namespace) -}}
{{- end }}

{{- define "portcullis.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end }}
