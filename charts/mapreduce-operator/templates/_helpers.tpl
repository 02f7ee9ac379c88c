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

{{- /* The namespaces watched, as a JSON list (empty: all): watchNamespaces and the older watchNamespace. */ -}}
{{- define "mapreduce-operator.watchNamespaces" -}}
{{- $namespaces := .Values.watchNamespaces | default list -}}
{{- with .Values.watchNamespace }}{{ $namespaces = append $namespaces . }}{{ end -}}
{{- $namespaces | uniq | toJson -}}
{{- end -}}

{{- /* The rules the operator needs on its jobs, pods, ConfigMaps and Events, each with the code that uses it
       (see docs/install.md; test/integration/install.test.ts runs a job with nothing more). */ -}}
{{- define "mapreduce-operator.jobRules" -}}
# list, watch: the job informer (controller/wiring.ts); delete: ttlSecondsAfterFinished (controller/ttl.ts);
# get: a job read past the cache before a results piece left under a needed name is replaced, and patch: the
# annotation mapreduce.dev/results-fence that moves the job past that piece's writer (controller/resultstore.ts);
# patch: the telemetry finalizer on a sampled job until its spans are delivered (Controller.syncJobFinalizer).
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs]
  verbs: [get, list, watch, delete, patch]
# update: the one status write per reconcile, a replace of the status subresource (Controller.writeStatus).
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs/status]
  verbs: [update]
# update: blockOwnerDeletion on the owner reference of the job's pods and ConfigMaps, which the
# OwnerReferencesPermissionEnforcement admission plugin checks where it is on (controller/ownership.ts).
- apiGroups: [mapreduce.dev]
  resources: [mapreducejobs/finalizers]
  verbs: [update]
# list, watch: the pod informer (controller/wiring.ts); create, delete: managePods; patch: releasePod takes
# the tracking finalizer off, and a running pod stopped with its job is marked cancelled-at (managePods);
# get: after AlreadyExists, whether the pod of that name is the job's (isOurs).
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
# get: a ConfigMap input (controller/inputloader.ts) and a result piece that exists (controller/resultstore.ts);
# list: the item snapshot, by label (controller/itemstore.ts); create: snapshot shards and result pieces,
# all immutable; delete: a partial snapshot, or a result piece no status can list, before writing it again;
# patch: a merged re-run adds itself as an owner of the earlier job's result pieces (controller/rerun.ts), and
# a result piece listed as it is records the job version its status write is conditioned on (resultstore.ts).
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, create, delete, patch]
# create: Events on the job; patch: the same Event again within 10 minutes bumps its count (controller/events.ts).
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
