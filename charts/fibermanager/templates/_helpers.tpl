{{/*
Names and labels.
*/}}
{{- define "fibermanager.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fibermanager.fullname" -}}
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

{{- define "fibermanager.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The server pods' selector (Deployment, Service, PodDisruptionBudget, NetworkPolicy).
*/}}
{{- define "fibermanager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fibermanager.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/*
Labels every object carries; the server's objects add the selector labels.
*/}}
{{- define "fibermanager.commonLabels" -}}
helm.sh/chart: {{ include "fibermanager.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: fibermanager
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fibermanager.labels" -}}
{{ include "fibermanager.selectorLabels" . }}
{{ include "fibermanager.commonLabels" . }}
{{- end }}

{{- define "fibermanager.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fibermanager.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fibermanager.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
True ("true") when a value means "not set": null or the empty string.
*/}}
{{- define "fibermanager.isUnset" -}}
{{- if or (kindIs "invalid" .) (and (kindIs "string" .) (eq . "")) }}true{{ end }}
{{- end }}

{{/*
A value as an environment variable string. YAML numbers reach templates as float64, which
toString would print as 1e+06: whole numbers are printed as integers.
*/}}
{{- define "fibermanager.envValue" -}}
{{- if kindIs "float64" . }}
{{- if eq (float64 (int64 .)) . }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
A .NET TimeSpan "[d.]hh:mm:ss[.fffffff]" in whole milliseconds (sub-millisecond digits are
dropped). The schema restricts TimeSpans to this form; anything else fails here too.
Usage: include "fibermanager.timespanMs" (list "server.shutdownTimeout" "00:00:30")
*/}}
{{- define "fibermanager.timespanMs" -}}
{{- $name := index . 0 }}
{{- $value := toString (index . 1) }}
{{- if not (regexMatch "^([0-9]+\\.)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,7})?$" $value) }}
{{- fail (printf "%s must be a TimeSpan \"[d.]hh:mm:ss[.fffffff]\" (got %q)" $name $value) }}
{{- end }}
{{- $parts := splitList ":" $value }}
{{- $dayHour := splitList "." (index $parts 0) }}
{{- $days := 0 }}
{{- $hours := 0 }}
{{- if eq (len $dayHour) 2 }}
{{- $days = atoi (index $dayHour 0) }}
{{- $hours = atoi (index $dayHour 1) }}
{{- else }}
{{- $hours = atoi (index $dayHour 0) }}
{{- end }}
{{- $minutes := atoi (index $parts 1) }}
{{- $secFrac := splitList "." (index $parts 2) }}
{{- $seconds := atoi (index $secFrac 0) }}
{{- $ms := 0 }}
{{- if eq (len $secFrac) 2 }}
{{- $ms = atoi (trunc 3 (printf "%s000" (index $secFrac 1))) }}
{{- end }}
{{- add (mul $days 86400000) (mul $hours 3600000) (mul $minutes 60000) (mul $seconds 1000) $ms }}
{{- end }}

{{/*
The service's own defaults for the two durations the chart reasons about (ServerOptions and
FiberManagerOptions; the chart tests pin them to the C# defaults).
*/}}
{{- define "fibermanager.defaultShutdownTimeout" -}}00:00:30{{- end }}
{{- define "fibermanager.defaultInterruptGracePeriod" -}}00:00:05{{- end }}

{{/*
Checks that values are consistent; fails the render with a message naming the values.
*/}}
{{- define "fibermanager.validate" -}}
{{- $v := .Values }}
{{- $shutdown := $v.server.shutdownTimeout }}
{{- $shutdownText := $shutdown }}
{{- if include "fibermanager.isUnset" $shutdown }}
{{- $shutdown = include "fibermanager.defaultShutdownTimeout" . }}
{{- $shutdownText = printf "%s, the service default" $shutdown }}
{{- end }}
{{- $grace := $v.config.InterruptGracePeriod }}
{{- $graceText := $grace }}
{{- if include "fibermanager.isUnset" $grace }}
{{- $grace = include "fibermanager.defaultInterruptGracePeriod" . }}
{{- $graceText = printf "%s, the service default" $grace }}
{{- end }}
{{- $shutdownMs := include "fibermanager.timespanMs" (list "server.shutdownTimeout" $shutdown) | atoi }}
{{- $graceMs := include "fibermanager.timespanMs" (list "config.InterruptGracePeriod" $grace) | atoi }}
{{- $preStopMs := mul (int64 $v.lifecycle.preStopSleepSeconds) 1000 }}
{{- $terminationMs := mul (int64 $v.terminationGracePeriodSeconds) 1000 }}
{{- if le $shutdownMs $graceMs }}
{{- fail (printf "server.shutdownTimeout (%s) must exceed config.InterruptGracePeriod (%s): on SIGTERM the service interrupts every fiber with that grace period inside its shutdown timeout" $shutdownText $graceText) }}
{{- end }}
{{- if le $terminationMs (add $preStopMs $shutdownMs) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed lifecycle.preStopSleepSeconds (%d) + server.shutdownTimeout (%s): Kubernetes would SIGKILL the pod before the service has interrupted its fibers and ended its streams" (int64 $v.terminationGracePeriodSeconds) (int64 $v.lifecycle.preStopSleepSeconds) $shutdownText) }}
{{- end }}
{{- if $v.tls.enabled }}
{{- if not $v.tls.secretName }}
{{- fail "tls.enabled needs tls.secretName (a Secret holding the certificate)" }}
{{- end }}
{{- if and (not $v.tls.keyFile) (not $v.tls.pfxPasswordSecret.name) }}
{{- fail "tls.enabled needs tls.keyFile (a PEM key in the Secret) or tls.pfxPasswordSecret (the password of a PFX certificate)" }}
{{- end }}
{{- if and $v.tls.keyFile $v.tls.pfxPasswordSecret.name }}
{{- fail "set tls.keyFile (PEM) or tls.pfxPasswordSecret (PFX), not both" }}
{{- end }}
{{- end }}
{{- if ne $v.tls.clientCertificateMode "None" }}
{{- if not $v.tls.enabled }}
{{- fail (printf "tls.clientCertificateMode %s needs tls.enabled (client certificates are asked for in the TLS handshake)" $v.tls.clientCertificateMode) }}
{{- end }}
{{- if not $v.tls.clientCa.secretName }}
{{- fail (printf "tls.clientCertificateMode %s needs tls.clientCa.secretName (a Secret with the PEM certificate of the CA that issues client certificates)" $v.tls.clientCertificateMode) }}
{{- end }}
{{- end }}
{{- if and $v.podDisruptionBudget.enabled (include "fibermanager.isUnset" $v.podDisruptionBudget.maxUnavailable) (include "fibermanager.isUnset" $v.podDisruptionBudget.minAvailable) }}
{{- fail "podDisruptionBudget.enabled needs maxUnavailable or minAvailable" }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int64 $v.autoscaling.minReplicas) (int64 $v.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int64 $v.autoscaling.minReplicas) (int64 $v.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and $v.otel.enabled (not $v.otel.endpoint) }}
{{- fail "otel.enabled needs otel.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- range $v.extraEnv }}
{{- if regexMatch "^fibermanager(__|:)" (lower (toString .name)) }}
{{- fail (printf "extraEnv must not set %s: use config.<Option> or server.<option>, which the chart keeps consistent with probes and termination" .name) }}
{{- end }}
{{- if and $v.otel.enabled (hasPrefix "OTEL_" (toString .name)) }}
{{- fail (printf "extraEnv must not set %s while otel.enabled: use the otel values" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The gRPC probe handler (grpc.health.v1.Health/Check), or a TCP connect check with TLS, which
the kubelet's gRPC probe cannot speak.
*/}}
{{- define "fibermanager.probeHandler" -}}
{{- $root := index . 0 }}
{{- $probe := index . 1 }}
{{- if $root.Values.tls.enabled }}
tcpSocket:
  port: grpc
{{- else }}
grpc:
  port: {{ int64 $root.Values.server.port }}
  service: {{ $probe.service | quote }}
{{- end }}
{{- end }}
