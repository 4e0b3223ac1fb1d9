{{/*
The chart name, or nameOverride.
*/}}
{{- define "standby-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name prefix of the release's objects: fullnameOverride, or the release name plus the chart
name unless the release name already contains it. At most 63 characters (a DNS label).
*/}}
{{- define "standby-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
chart-version, for the helm.sh/chart label.
*/}}
{{- define "standby-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels every object of the release carries.
*/}}
{{- define "standby-operator.labels" -}}
helm.sh/chart: {{ include "standby-operator.chart" . }}
{{ include "standby-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: standby-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels that select the operator's pods (immutable in a Deployment: never add to them).
*/}}
{{- define "standby-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "standby-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The operator's ServiceAccount.
*/}}
{{- define "standby-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "standby-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image: repository:tag, repository@digest or repository:tag@digest. The tag defaults
to the chart's appVersion unless a digest pins the image.
*/}}
{{- define "standby-operator.image" -}}
{{- $tag := .Values.image.tag | default (ternary "" .Chart.AppVersion (ne .Values.image.digest "")) }}
{{- .Values.image.repository }}{{ if $tag }}:{{ $tag }}{{ end }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ end }}
{{- end }}

{{/*
The name of the Lease the replicas elect a leader on (fixed in the operator: src/cli/run.ts).
*/}}
{{- define "standby-operator.leaseName" -}}
{{- printf "%s-leader" (include "standby-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
What the operator does in the namespaces it watches: exactly the API calls it makes, no more.
Kubernetes only lets it grant (in the Role it creates per site for the copy Jobs) what it holds
itself, so these rules also cover that Role's rules (src/tiers/jobs.ts, buildCopierIdentity).
It holds neither `escalate` nor `bind`.
*/}}
{{- define "standby-operator.rules" -}}
# StandbySites: read; only the status is written (spec is the user's, or GitOps'), and the
# operator's one finalizer (standby.dev/site-guard, patched by resourceVersion precondition) on a
# site whose guard lives in the primary's cluster, so that the guard is deleted before the site.
- apiGroups: ["standby.dev"]
  resources: ["standbysites"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["standby.dev"]
  resources: ["standbysites/status"]
  verbs: ["get", "patch", "update"]
# Owned objects carry ownerReferences with blockOwnerDeletion; clusters with the
# OwnerReferencesPermissionEnforcement admission plugin (e.g. OpenShift) require this to set them.
# StandbySites have no finalizers subresource: it allows no write of its own.
- apiGroups: ["standby.dev"]
  resources: ["standbysites/finalizers"]
  verbs: ["update"]
# Automatic site failover, the primary's side: StandbySiteGuards are written by the standby's
# operator; this one reads them and writes only their status (the self-fence is a NetworkPolicy
# and the witness's kubeconfig a Secret, both below).
- apiGroups: ["standby.dev"]
  resources: ["standbysiteguards"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["standby.dev"]
  resources: ["standbysiteguards/status"]
  verbs: ["get", "patch", "update"]
# The primary (read, fenced by scaling to 0) and the standby workload (server-side apply).
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# The primary's and the standby's pods: readiness and resources only.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# A promoted standby at reduced capacity grows in place (the pods' resize subresource changes
# only their requests and limits).
- apiGroups: [""]
  resources: ["pods/resize"]
  verbs: ["patch"]
# The traffic Service, the standby's claims and the copy Jobs' ServiceAccount.
- apiGroups: [""]
  resources: ["services", "persistentvolumeclaims", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Database credentials named in a site's engine settings: get by name, never list or watch.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# Snapshot and sync CronJobs, and the Jobs of copy runs and promotions.
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
# The fencing NetworkPolicy.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# The copy Jobs' Role and RoleBinding, per site.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["snapshot.storage.k8s.io"]
  resources: ["volumesnapshots"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Engines find the primary's pod IPs.
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list"]
{{- end }}

{{/*
The ServiceAccount an operator in a standby's cluster acts as in this (the primary's) cluster.
*/}}
{{- define "standby-operator.remoteServiceAccount" -}}
{{- default (printf "%s-remote" (include "standby-operator.fullname" .)) .Values.remoteAccess.serviceAccountName | trunc 63 | trimSuffix "-" }}
{{- end }}
