{{/* SPDX-License-Identifier: Apache-2.0 OR MIT */}}

{{- define "clockwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clockwatch.fullname" -}}
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

{{- define "clockwatch.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "clockwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clockwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clockwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "clockwatch.labels" -}}
helm.sh/chart: {{ include "clockwatch.chart" . }}
{{ include "clockwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: clockwatch
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "clockwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "clockwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "clockwatch.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* chronyd address for the selected access mode. */}}
{{- define "clockwatch.chronyAddress" -}}
{{- $access := .Values.chrony.access }}
{{- if eq $access "udp" }}
{{- .Values.chrony.udpAddress }}
{{- else if eq $access "socket" }}
{{- printf "unix://%s/chronyd.sock" (trimSuffix "/" .Values.chrony.socketDir) }}
{{- else if eq $access "timex" }}
{{- "none" }}
{{- else }}
{{- fail (printf "chrony.access must be udp, socket or timex, not %q" $access) }}
{{- end }}
{{- end }}

{{- define "clockwatch.webConfigSecretName" -}}
{{- default (printf "%s-web-config" (include "clockwatch.fullname" .)) .Values.webConfig.existingSecret }}
{{- end }}

{{/* Relabelings shared by the ServiceMonitor and the PodMonitor. */}}
{{- define "clockwatch.monitorRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
  action: replace
- targetLabel: job
  replacement: {{ .jobName | quote }}
  action: replace
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A probe adapted to the web config: /healthz and /readyz never ask for basic
auth, but with TLS the kubelet must speak HTTPS (it does not verify the
certificate), and when client certificates are required it cannot complete
the handshake at all, so the probe becomes a TCP check.
*/}}
{{- define "clockwatch.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- $wc := .root.Values.webConfig -}}
{{- if and $wc.enabled $probe.httpGet -}}
{{- $tlsc := (($wc.config | default dict).tls_server_config) -}}
{{- $mtls := $wc.clientCertRequired -}}
{{- if and $tlsc (eq (toString (($tlsc | default dict).client_auth_type | default "")) "RequireAndVerifyClientCert") -}}
{{- $mtls = true -}}
{{- end -}}
{{- if $mtls -}}
{{- $port := $probe.httpGet.port -}}
{{- $_ := unset $probe "httpGet" -}}
{{- $_ := set $probe "tcpSocket" (dict "port" $port) -}}
{{- else if or $wc.tls $tlsc -}}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}
