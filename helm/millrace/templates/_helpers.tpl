{{/* Chart name (nameOverride wins). */}}
{{- define "millrace.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: fullnameOverride, else the release name, with "-millrace" unless it already
contains the chart name. Truncated so that the longest suffix ("-operator-leader-election") still fits 63.
*/}}
{{- define "millrace.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 38 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 38 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 38 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "millrace.operatorName" -}}
{{- printf "%s-operator" (include "millrace.fullname" .) }}
{{- end }}

{{- define "millrace.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "millrace.labels" -}}
helm.sh/chart: {{ include "millrace.chart" . }}
{{ include "millrace.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: millrace
{{- end }}

{{/* The operator pods' selector (never change: a Deployment selector is immutable). */}}
{{- define "millrace.selectorLabels" -}}
app.kubernetes.io/name: {{ include "millrace.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "millrace.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "millrace.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag or repository@digest. */}}
{{- define "millrace.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "millrace.brokerImage" -}}
{{- printf "%s:%s" .Values.brokerImage.repository (default .Chart.AppVersion .Values.brokerImage.tag) }}
{{- end }}

{{/* The watched namespace: "" (all) for scope=cluster, else watchNamespace or the release namespace. */}}
{{- define "millrace.watchNamespace" -}}
{{- if eq .Values.scope "namespace" }}
{{- default .Release.Namespace .Values.watchNamespace }}
{{- else if eq .Values.scope "cluster" }}
{{- if .Values.watchNamespace }}
{{- fail "watchNamespace is only used with scope=namespace (scope=cluster watches every namespace)" }}
{{- end }}
{{- else }}
{{- fail (printf "scope must be cluster or namespace (got %q)" .Values.scope) }}
{{- end }}
{{- end }}

{{- define "millrace.leaseName" -}}
{{- default (printf "%s-leader" (include "millrace.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
The operator's permissions on the resources it manages, in the watched namespace(s). Derived from
operator/src/controllers and operator/src/runtime (see README.md, "RBAC"):
- KafkaCluster, KafkaTopic: informers (list, watch) and reads; KafkaTopic finalizers by JSON patch.
- status subresources: server-side apply of the status (patch).
- kafkaclusters/finalizers: setting blockOwnerDeletion on the children's owner references needs it where the
  OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift); kafkatopics/finalizers likewise.
- children: server-side apply (create when absent, patch), informers, delete of children the spec dropped.
- pods: the rolling restart (delete one pod at a time); persistentvolumeclaims: resize (patch), delete with
  deleteClaim.
- events: core/v1 Events, with repeats aggregated by a merge patch.
*/}}
{{- define "millrace.operatorRules" -}}
- apiGroups: ["kafka.millrace.dev"]
  resources: ["kafkaclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kafka.millrace.dev"]
  resources: ["kafkatopics"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["kafka.millrace.dev"]
  resources: ["kafkaclusters/status", "kafkatopics/status"]
  verbs: ["get", "patch"]
- apiGroups: ["kafka.millrace.dev"]
  resources: ["kafkaclusters/finalizers", "kafkatopics/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* gracefulShutdownTimeout ("30s", "2m", "500ms") in whole seconds plus 15, the pod's grace period. */}}
{{- define "millrace.gracePeriodSeconds" -}}
{{- $d := toString .Values.gracefulShutdownTimeout }}
{{- $seconds := 0 }}
{{- if regexMatch "^[0-9]+ms$" $d }}{{- $seconds = div (add (trimSuffix "ms" $d | int) 999) 1000 }}
{{- else if regexMatch "^[0-9]+s$" $d }}{{- $seconds = trimSuffix "s" $d | int }}
{{- else if regexMatch "^[0-9]+m$" $d }}{{- $seconds = mul (trimSuffix "m" $d | int) 60 }}
{{- else if regexMatch "^[0-9]+h$" $d }}{{- $seconds = mul (trimSuffix "h" $d | int) 3600 }}
{{- else }}{{- fail (printf "gracefulShutdownTimeout must be a whole number with ms, s, m or h (got %q)" $d) }}
{{- end }}
{{- add $seconds 15 }}
{{- end }}
