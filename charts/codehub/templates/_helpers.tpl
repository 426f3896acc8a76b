{{/* Chart name, overridable with nameOverride. */}}
{{- define "codehub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, or the release name alone when it already contains the chart name.
Truncated to leave room for the component suffixes (-gateway-metrics is 16 characters).
*/}}
{{- define "codehub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "codehub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "codehub.labels" -}}
helm.sh/chart: {{ include "codehub.chart" . }}
app.kubernetes.io/name: {{ include "codehub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: codehub
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "gateway"). */}}
{{- define "codehub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "codehub.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects. */}}
{{- define "codehub.componentLabels" -}}
{{ include "codehub.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The gateway pods' selector as one "k=v,k=v" string (the operator's --gateway-selector). */}}
{{- define "codehub.gatewaySelectorString" -}}
{{- $l := include "codehub.selectorLabels" (dict "ctx" . "component" "gateway") | fromYaml }}
{{- $pairs := list }}
{{- range $k := keys $l | sortAlpha }}
{{- $pairs = append $pairs (printf "%s=%s" $k (get $l $k)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "codehub.gateway.fullname" -}}
{{- printf "%s-gateway" (include "codehub.fullname" .) }}
{{- end }}

{{- define "codehub.operator.fullname" -}}
{{- printf "%s-operator" (include "codehub.fullname" .) }}
{{- end }}

{{- define "codehub.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create }}
{{- default (include "codehub.gateway.fullname" .) .Values.gateway.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.gateway.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "codehub.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "codehub.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: (dict "image" .Values.gateway.image "ctx" $). */}}
{{- define "codehub.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* imagePullSecrets of a pod: the global list plus the component's own. */}}
{{- define "codehub.imagePullSecrets" -}}
{{- $all := concat .ctx.Values.imagePullSecrets .extra | uniq }}
{{- if $all }}
imagePullSecrets:
{{- range $all }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Host the Ingress serves: ingress.host or vscode.<global.domain>; empty if neither. */}}
{{- define "codehub.host" -}}
{{- if .Values.ingress.host }}
{{- .Values.ingress.host }}
{{- else if .Values.global.domain }}
{{- printf "vscode.%s" .Values.global.domain }}
{{- end }}
{{- end }}

{{/* The --workspace-origins host of the gateway and operator (empty when off). */}}
{{- define "codehub.workspaceOrigins" -}}
{{- if .Values.gateway.workspaceOrigins }}
{{- include "codehub.host" . }}
{{- end }}
{{- end }}

{{/* Public URL users open (empty when there is no Ingress host). */}}
{{- define "codehub.publicURL" -}}
{{- $host := include "codehub.host" . }}
{{- if and .Values.ingress.enabled $host }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) $host }}
{{- end }}
{{- end }}

{{/* Name of the Secret with the session key. */}}
{{- define "codehub.sessionKeySecret" -}}
{{- default (printf "%s-session-key" (include "codehub.fullname" .)) .Values.gateway.sessionKey.existingSecret }}
{{- end }}

{{/* Namespaces the operator reconciles (clusterWide: false). */}}
{{- define "codehub.operator.namespaces" -}}
{{- append .Values.operator.watchNamespaces .Release.Namespace | uniq | join "," }}
{{- end }}
