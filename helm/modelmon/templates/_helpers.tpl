{{/* Names: 63 characters is the DNS label limit Kubernetes puts on names and label values. */}}
{{- define "modelmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name. Components append "-worker" (7 characters) and "-migrate" (8), so
it is cut at 55.
*/}}
{{- define "modelmon.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "modelmon.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "modelmon.labels" -}}
helm.sh/chart: {{ include "modelmon.chart" . }}
{{ include "modelmon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelmon
{{- end }}

{{- define "modelmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "modelmon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelmon.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "modelmon.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The data of the chart's Secrets: MODELMON_DATABASE_URL and secret.extra, base64. */}}
{{- define "modelmon.secretData" -}}
MODELMON_DATABASE_URL: {{ required "secret.databaseUrl is required (postgresql+psycopg://user:password@host:5432/modelmon), or name a Secret holding MODELMON_DATABASE_URL in secret.existingSecret" .Values.secret.databaseUrl | b64enc | quote }}
MODELMON_PSEUDONYM_KEY: {{ required "secret.pseudonymKey is required (at least 32 random characters, e.g. `openssl rand -hex 32`), or put MODELMON_PSEUDONYM_KEY in the Secret named by secret.existingSecret" .Values.secret.pseudonymKey | b64enc | quote }}
MODELMON_SECRET_KEY: {{ required "secret.secretKey is required (at least 32 random characters, e.g. `openssl rand -hex 32`), or put MODELMON_SECRET_KEY in the Secret named by secret.existingSecret" .Values.secret.secretKey | b64enc | quote }}
{{- with .Values.secret.adminKey }}
MODELMON_ADMIN_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- range $key, $value := .Values.secret.extra }}
{{ $key }}: {{ $value | toString | b64enc | quote }}
{{- end }}
{{- end }}

{{/* The migration Job's Secret: the chart's data and the owner's URL, which only it gets. */}}
{{- define "modelmon.migrationSecretData" -}}
{{ include "modelmon.secretData" . }}
{{- with .Values.secret.migrationDatabaseUrl }}
MODELMON_MIGRATION_DATABASE_URL: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* The Secret holding MODELMON_DATABASE_URL for the API and worker pods. */}}
{{- define "modelmon.secretName" -}}
{{- .Values.secret.existingSecret | default (include "modelmon.fullname" .) }}
{{- end }}

{{/*
The non-secret MODELMON_* settings as a YAML map of strings: the ConfigMap's data, and the
migration Job's env (a pre-install hook runs before the ConfigMap exists).
MODELMON_AUTO_MIGRATE is false: the hook Job migrates, never the API pods, so two replicas
starting at once cannot race on the schema. Only `modelmon worker` reads
MODELMON_WORKER_METRICS_PORT; it is here beside MODELMON_PORT so that config.extra cannot set
a port the worker's containerPort does not match.
*/}}
{{- define "modelmon.configData" -}}
MODELMON_ENV: {{ .Values.config.env | quote }}
MODELMON_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
MODELMON_HOST: "0.0.0.0"
MODELMON_PORT: {{ .Values.api.containerPort | quote }}
MODELMON_WORKERS: {{ .Values.api.uvicornWorkers | quote }}
MODELMON_DATABASE_POOL_SIZE: {{ .Values.config.databasePoolSize | quote }}
MODELMON_DATABASE_MAX_OVERFLOW: {{ .Values.config.databaseMaxOverflow | quote }}
MODELMON_AUTO_MIGRATE: "false"
MODELMON_WORKER_METRICS_PORT: {{ .Values.worker.metricsPort | quote }}
{{- range $key, $value := .Values.config.extra }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Rolls the pods when a setting changes: env vars are read once, at start. */}}
{{- define "modelmon.checksums" -}}
checksum/config: {{ include "modelmon.configData" . | sha256sum }}
{{- if not .Values.secret.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* Pod-level security context shared by every pod of the chart. */}}
{{- define "modelmon.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context shared by every container of the chart. */}}
{{- define "modelmon.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Pod spec fields shared by every pod. enableServiceLinks is off because Kubernetes would
otherwise inject MODELMON_PORT=tcp://10.x.x.x:8000 into every pod of a namespace holding a
Service named "modelmon", which the settings parser refuses as a port.
*/}}
{{- define "modelmon.podCommon" -}}
enableServiceLinks: false
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "modelmon.podSecurityContext" . | nindent 2 }}
{{- end }}

{{- define "modelmon.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end }}

{{- define "modelmon.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* envFrom of the API and worker containers. */}}
{{- define "modelmon.envFrom" -}}
- configMapRef:
    name: {{ include "modelmon.fullname" . }}
- secretRef:
    name: {{ include "modelmon.secretName" . }}
{{- end }}
