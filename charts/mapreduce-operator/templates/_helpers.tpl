{{- define "mapreduce-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mapreduce-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mapreduce-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mapreduce-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mapreduce-operator.labels" -}}
{{ include "mapreduce-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- /* The rules the operator needs on its jobs, pods, ConfigMaps and Events (see docs/install.md). */ -}}
{{- define "mapreduce-operator.jobRules" -}}
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs]
  verbs: [get, list, watch, delete]
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs/status]
  verbs: [get, update, patch]
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs/finalizers]
  verbs: [update]
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{- define "mapreduce-operator.resourceAttributes" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
