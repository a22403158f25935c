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

{{/*
Labels of the objects kube-prometheus-stack selects (ServiceMonitor,
PodMonitor, PrometheusRule): the common labels, `release` from releaseLabel
(true: this release's name, as in the node-exporter chart; a string: that
name, e.g. the stack's own release), then the object's additionalLabels.
*/}}
{{- define "clockwatch.monitoringLabels" -}}
{{- $root := .root -}}
{{ include "clockwatch.labels" $root }}
{{- $rl := $root.Values.releaseLabel }}
{{- if and (kindIs "bool" $rl) $rl }}
release: {{ $root.Release.Name | quote }}
{{- else if and (kindIs "string" $rl) $rl }}
release: {{ $rl | quote }}
{{- end }}
{{- with .additional }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "clockwatch.serviceLabels" -}}
{{ include "clockwatch.labels" . }}
{{- with .Values.service.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The job label of the clockwatch targets, one value for the monitors and the
rules: jobName, or, with serviceMonitor.jobLabel, the value of that label on
the Service (prometheus-operator takes the job from it).
*/}}
{{- define "clockwatch.job" -}}
{{- $sm := .Values.serviceMonitor }}
{{- if and $sm.enabled $sm.jobLabel }}
{{- $labels := include "clockwatch.serviceLabels" . | fromYaml }}
{{- $job := get $labels $sm.jobLabel }}
{{- if not $job }}
{{- fail (printf "serviceMonitor.jobLabel %q is not a label of the Service (add it with service.labels)" $sm.jobLabel) }}
{{- end }}
{{- $job }}
{{- else }}
{{- .Values.jobName }}
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
{{- $registry := (.Values.global | default dict).imageRegistry | default .Values.image.registry }}
{{- $repo := .Values.image.repository }}
{{- if $registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" $registry) .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The access modes, defined here and nowhere else: each says how clockwatch
reaches the node's time daemon and what the pod needs from the node. The
templates read only these fields, so a new mode is one more entry here and
in the schema's chrony.access enum (a test checks that the two agree).
  address        the --chrony.address flag
  hostNetwork    share the node's network namespace (and its port: hostPort)
  socketDir      hostPath directory, mounted read-write at the same path
  socketUser     run as chrony.socketUser (chronyd's uid/gid); required
  chronyTimeout  pass --chrony.timeout
  ptpSockets     read these ptp4l sockets (--ptp.socket); the verdict rests on ptp4l
  ptpDirs        hostPath directories holding them, mounted read-only at the same path
  timesyncdBus   read systemd-timesyncd on this system bus socket (--timesyncd.bus);
                 the verdict rests on timesyncd
  busDir         hostPath directory holding it, mounted read-only at the same path
  localtime      the pod may mount the node's /etc/localtime (hostPath allowed)
  podSecurity    the Pod Security level the namespace must allow
  needs          what the pod takes from the node, for NOTES.txt
*/}}
{{- define "clockwatch.modes" -}}
{{- $dir := trimSuffix "/" .Values.chrony.socketDir -}}
udp:
  address: {{ .Values.chrony.udpAddress | quote }}
  hostNetwork: true
  chronyTimeout: true
  localtime: true
  podSecurity: privileged
  needs: hostNetwork
socket:
  address: {{ printf "unix://%s/chronyd.sock" $dir | quote }}
  socketDir: {{ $dir | quote }}
  socketUser: true
  chronyTimeout: true
  localtime: true
  podSecurity: privileged
  needs: {{ printf "a hostPath volume (%s)" $dir | quote }}
timex:
  address: none
  podSecurity: restricted
  needs: nothing
ptp:
  address: none
  hostNetwork: true
  ptpSockets: {{ .Values.ptp.sockets | toJson }}
  ptpDirs: {{ include "clockwatch.ptpDirs" . }}
  localtime: true
  podSecurity: privileged
  needs: {{ printf "hostNetwork and read-only hostPath volumes (%s)" (include "clockwatch.ptpDirs" . | fromJsonArray | join ", ") | quote }}
timesyncd:
  address: none
  timesyncdBus: {{ .Values.timesyncd.busSocket | quote }}
  busDir: {{ dir .Values.timesyncd.busSocket | quote }}
  localtime: true
  podSecurity: privileged
  needs: {{ printf "a read-only hostPath volume (%s)" (dir .Values.timesyncd.busSocket) | quote }}
{{- end }}

{{/*
The directories of ptp.sockets, each once, as a JSON list: mounted
read-only, they let clockwatch reach the sockets (a unix socket is reached
on a read-only mount) and follow ptp4l when it restarts and makes its
socket anew (a mount of the socket file itself would keep the old one).
*/}}
{{- define "clockwatch.ptpDirs" -}}
{{- $dirs := list -}}
{{- range (.Values.ptp | default dict).sockets | default list -}}
{{- $dirs = append $dirs (dir .) -}}
{{- end -}}
{{- $dirs | uniq | toJson -}}
{{- end }}

{{/* The selected mode (a YAML map), or a clear failure. */}}
{{- define "clockwatch.mode" -}}
{{- $modes := include "clockwatch.modes" . | fromYaml }}
{{- $access := .Values.chrony.access }}
{{- if not (hasKey $modes $access) }}
{{- fail (printf "chrony.access must be one of %s, not %q" (keys $modes | sortAlpha | join ", ") $access) }}
{{- end }}
{{- toYaml (get $modes $access) }}
{{- end }}

{{- define "clockwatch.chronyAddress" -}}
{{- (include "clockwatch.mode" . | fromYaml).address }}
{{- end }}

{{- define "clockwatch.webConfigSecretName" -}}
{{- default (printf "%s-web-config" (include "clockwatch.fullname" .)) .Values.webConfig.existingSecret }}
{{- end }}

{{/* Relabelings shared by the ServiceMonitor and the PodMonitor. */}}
{{- define "clockwatch.monitorRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
  action: replace
{{- if .job }}
- targetLabel: job
  replacement: {{ .job | quote }}
  action: replace
{{- end }}
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A probe with exactly one handler, adapted to the web config.
Helm merges a user's probe into the default one, so a user who sets
tcpSocket (or exec, grpc) would otherwise keep the default httpGet beside it,
and the API server refuses a probe with two handlers: the user's handler
replaces the default httpGet. (Setting `httpGet: null` does the same.)
/healthz and /readyz never ask for basic auth, but with TLS the kubelet must
speak HTTPS (it does not verify the certificate), and when client
certificates are required it cannot complete the handshake at all, so the
probe becomes a TCP check.
*/}}
{{- define "clockwatch.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- range $k, $v := $probe -}}
{{- if kindIs "invalid" $v -}}
{{- $_ := unset $probe $k -}}
{{- end -}}
{{- end -}}
{{- $others := 0 -}}
{{- range list "tcpSocket" "exec" "grpc" -}}
{{- if hasKey $probe . -}}
{{- $others = add1 $others -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey $probe "httpGet") (gt $others 0) -}}
{{- $_ := unset $probe "httpGet" -}}
{{- end -}}
{{- if gt $others 1 -}}
{{- fail (printf "%s: give one handler (httpGet, tcpSocket, exec or grpc), not several" .name) -}}
{{- end -}}
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

{{/*
Node affinity: the user's affinity, with excludeNodes (nodes where a
DaemonSet pod can never run: EKS Fargate, virtual-kubelet) added to every
required node selector term (terms are ORed, so each must exclude them).
*/}}
{{- define "clockwatch.affinity" -}}
{{- $aff := deepCopy (.Values.affinity | default dict) -}}
{{- $extra := .Values.excludeNodes | default list -}}
{{- if $extra -}}
{{- $na := $aff.nodeAffinity | default dict -}}
{{- $req := get $na "requiredDuringSchedulingIgnoredDuringExecution" | default dict -}}
{{- $terms := $req.nodeSelectorTerms | default (list (dict)) -}}
{{- $new := list -}}
{{- range $terms -}}
{{- $term := deepCopy . -}}
{{- $_ := set $term "matchExpressions" (concat ($term.matchExpressions | default list) $extra) -}}
{{- $new = append $new $term -}}
{{- end -}}
{{- $_ := set $req "nodeSelectorTerms" $new -}}
{{- $_ := set $na "requiredDuringSchedulingIgnoredDuringExecution" $req -}}
{{- $_ := set $aff "nodeAffinity" $na -}}
{{- end -}}
{{- if $aff -}}
{{- toYaml $aff -}}
{{- end -}}
{{- end -}}

{{/*
The probe servers' egress, as JSON: {"ports": [...], "ips": [...], "names": bool}.
HOST:PORT gives the port (123 otherwise); [v6]:PORT and bare IPv6 addresses
are understood; IPv4 and IPv6 literals become /32 and /128 ipBlocks; any
other host is a name (any address, and DNS).
*/}}
{{- define "clockwatch.probeEgress" -}}
{{- $ports := list -}}
{{- $ips := list -}}
{{- $names := false -}}
{{- range (.Values.probe | default dict).servers | default list -}}
{{- $host := . -}}
{{- $port := "123" -}}
{{- if hasPrefix "[" . -}}
{{- $host = regexReplaceAll "^\\[([^]]*)\\].*$" . "${1}" -}}
{{- if regexMatch "^\\[[^]]*\\]:[0-9]+$" . -}}
{{- $port = regexReplaceAll "^.*:([0-9]+)$" . "${1}" -}}
{{- end -}}
{{- else if eq (len (splitList ":" .)) 2 -}}
{{- $host = (splitList ":" .) | first -}}
{{- $port = (splitList ":" .) | last -}}
{{- end -}}
{{- $ports = append $ports (int $port) -}}
{{- if regexMatch "^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$" $host -}}
{{- $ips = append $ips (printf "%s/32" $host) -}}
{{- else if contains ":" $host -}}
{{- $ips = append $ips (printf "%s/128" $host) -}}
{{- else -}}
{{- $names = true -}}
{{- end -}}
{{- end -}}
{{- dict "ports" ($ports | uniq) "ips" ($ips | uniq) "names" $names | toJson -}}
{{- end }}
