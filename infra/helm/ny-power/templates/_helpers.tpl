{{/*
Expand the name of the chart.
*/}}
{{- define "ny-power.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
Truncated at 52 chars (not 63) so that "-<component>" suffixes (longest: "-mosquitto-lb")
still fit the 63-char DNS label limit of Service names.
If release name contains chart name it will be used as a full name.
*/}}
{{- define "ny-power.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "ny-power.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "ny-power.labels" -}}
helm.sh/chart: {{ include "ny-power.chart" . }}
{{ include "ny-power.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ny-power
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "ny-power.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ny-power.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one component. Call with (dict "ctx" $ "component" "pump").
*/}}
{{- define "ny-power.componentLabels" -}}
{{ include "ny-power.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one component: unique per workload within a namespace.
Call with (dict "ctx" $ "component" "pump").
*/}}
{{- define "ny-power.componentSelectorLabels" -}}
{{ include "ny-power.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Pod labels of one component: selector labels plus podLabels.
*/}}
{{- define "ny-power.podLabels" -}}
{{ include "ny-power.componentLabels" . }}
{{- with .ctx.Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "ny-power.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ny-power.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The ny-power image reference.
*/}}
{{- define "ny-power.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The Mosquitto image reference.
*/}}
{{- define "ny-power.mosquitto.image" -}}
{{- printf "%s:%s" .Values.mosquitto.image.repository .Values.mosquitto.image.tag }}
{{- end }}

{{/*
Names of the components' objects.
*/}}
{{- define "ny-power.mosquitto.fullname" -}}
{{- printf "%s-mosquitto" (include "ny-power.fullname" .) }}
{{- end }}

{{- define "ny-power.influxdb.fullname" -}}
{{- printf "%s-influxdb" (include "ny-power.fullname" .) }}
{{- end }}

{{- define "ny-power.web.fullname" -}}
{{- printf "%s-web" (include "ny-power.fullname" .) }}
{{- end }}

{{/*
Secret holding the broker passwords (one key per user).
*/}}
{{- define "ny-power.mqtt.secretName" -}}
{{- if .Values.mqtt.existingSecret }}
{{- .Values.mqtt.existingSecret }}
{{- else }}
{{- printf "%s-mqtt" (include "ny-power.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The broker's users as a YAML list of {role, username, passwordKey}: one per service, plus
Home Assistant's when homeAssistant.user is enabled. Use with fromYamlArray.
*/}}
{{- define "ny-power.mqtt.users" -}}
{{- range $role := list "pump" "co2" "archive" }}
{{- $u := index $.Values.mqtt.users $role }}
- role: {{ $role }}
  username: {{ $u.username | quote }}
  passwordKey: {{ $u.passwordKey | quote }}
{{- end }}
{{- with .Values.homeAssistant.user }}
{{- if .enabled }}
- role: homeassistant
  username: {{ .username | quote }}
  passwordKey: {{ .passwordKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Home Assistant's node id of this stack: the topic root with non-alphanumerics as "_".
*/}}
{{- define "ny-power.haNodeId" -}}
{{- regexReplaceAll "[^a-zA-Z0-9]" .Values.topicRoot "_" }}
{{- end }}

{{/*
Secret holding the InfluxDB credentials the services use (built-in or external).
Empty when the external InfluxDB needs no credentials.
*/}}
{{- define "ny-power.influxdb.secretName" -}}
{{- if .Values.influxdb.enabled }}
{{- default (include "ny-power.influxdb.fullname" .) .Values.influxdb.existingSecret }}
{{- else }}
{{- .Values.externalInfluxdb.existingSecret }}
{{- end }}
{{- end }}

{{/*
Whether the chart deploys its own Mosquitto: "true", or empty with externalMqtt.url.
*/}}
{{- define "ny-power.mosquitto.enabled" -}}
{{- if not .Values.externalMqtt.url }}true{{ end }}
{{- end }}

{{/*
Whether the services connect to the built-in Mosquitto over its TLS listener.
*/}}
{{- define "ny-power.mosquitto.servicesTls" -}}
{{- if and (include "ny-power.mosquitto.enabled" .) .Values.mosquitto.tls.enabled .Values.mosquitto.tls.services }}true{{ end }}
{{- end }}

{{/*
The broker URL the services use (MQTT_URL). Over the built-in TLS listener the host is the
Service's "<name>.<namespace>.svc": the name its certificate must carry.
*/}}
{{- define "ny-power.mqttUrl" -}}
{{- if .Values.externalMqtt.url }}
{{- .Values.externalMqtt.url }}
{{- else if include "ny-power.mosquitto.servicesTls" . }}
{{- printf "mqtts://%s.%s.svc:%v" (include "ny-power.mosquitto.fullname" .) .Release.Namespace .Values.mosquitto.tls.port }}
{{- else }}
{{- printf "mqtt://%s:%v" (include "ny-power.mosquitto.fullname" .) .Values.mosquitto.service.mqttPort }}
{{- end }}
{{- end }}

{{/*
The TLS files the services mount at /var/run/secrets/ny-power/mqtt-tls, as YAML
{secretName, items, clientCertificate}; empty when they trust the system's CAs or use no TLS.
Use with fromYaml.
*/}}
{{- define "ny-power.mqttTls" -}}
{{- if .Values.externalMqtt.url }}
{{- with .Values.externalMqtt.tls }}
{{- if .existingSecret }}
secretName: {{ .existingSecret | quote }}
clientCertificate: {{ .clientCertificate }}
items:
  - key: {{ .caKey | quote }}
    path: ca.crt
  {{- if .clientCertificate }}
  - key: {{ .certKey | quote }}
    path: tls.crt
  - key: {{ .keyKey | quote }}
    path: tls.key
  {{- end }}
{{- end }}
{{- end }}
{{- else if include "ny-power.mosquitto.servicesTls" . }}
secretName: {{ .Values.mosquitto.tls.secretName | quote }}
clientCertificate: false
items:
  - key: ca.crt
    path: ca.crt
{{- end }}
{{- end }}

{{/*
Checks of the broker values (called once, from services.yaml).
*/}}
{{- define "ny-power.checkBroker" -}}
{{- with .Values.externalMqtt }}
{{- if .url }}
{{- if not $.Values.mqtt.existingSecret }}
{{- fail "externalMqtt.url needs mqtt.existingSecret: the passwords of the services' users on that broker (keys mqtt.users.*.passwordKey)" }}
{{- end }}
{{- if $.Values.mosquitto.tls.enabled }}
{{- fail "mosquitto.tls is the built-in broker's listener: with externalMqtt.url there is none (set externalMqtt.tls instead)" }}
{{- end }}
{{- if and .tls.existingSecret (not (regexMatch "^(mqtts|ssl|wss)://" .url)) }}
{{- fail (printf "externalMqtt.tls is set but externalMqtt.url %q is not a TLS URL (mqtts:// or wss://)" .url) }}
{{- end }}
{{- end }}
{{- if and .tls.clientCertificate (not .tls.existingSecret) }}
{{- fail "externalMqtt.tls.clientCertificate needs externalMqtt.tls.existingSecret (the Secret holding the certificate and key)" }}
{{- end }}
{{- end }}
{{- if and .Values.mosquitto.tls.enabled (not .Values.externalMqtt.url) (not .Values.mosquitto.tls.secretName) }}
{{- fail "mosquitto.tls.secretName is required when mosquitto.tls.enabled (a Secret with tls.crt, tls.key and ca.crt, e.g. from a cert-manager Certificate)" }}
{{- end }}
{{- end }}

{{/*
The InfluxDB URL the archiver uses (INFLUX_URL).
*/}}
{{- define "ny-power.influxUrl" -}}
{{- if .Values.influxdb.enabled }}
{{- printf "http://%s:%v" (include "ny-power.influxdb.fullname" .) .Values.influxdb.service.port }}
{{- else }}
{{- required "externalInfluxdb.url is required when influxdb.enabled is false" .Values.externalInfluxdb.url }}
{{- end }}
{{- end }}

{{/*
The broker's WebSocket URL as the browser sees it (PUBLIC_MQTT_WS_URL).
*/}}
{{- define "ny-power.publicMqttWsUrl" -}}
{{- if .Values.web.publicMqttWsUrl }}
{{- .Values.web.publicMqttWsUrl }}
{{- else if .Values.externalMqtt.url }}
{{- required "externalMqtt.publicWsUrl (or web.publicMqttWsUrl) is required with externalMqtt.url: the broker's WebSocket URL as the browser sees it" .Values.externalMqtt.publicWsUrl }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s%s" (ternary "wss" "ws" .Values.ingress.tls.enabled) (required "ingress.host is required when the Ingress is enabled" .Values.ingress.host) .Values.ingress.mqttPath }}
{{- else }}
{{- printf "ws://127.0.0.1:%v/mqtt" .Values.mosquitto.service.websocketPort }}
{{- end }}
{{- end }}

{{/*
Return the value of a Secret key that already exists in the cluster (base64, as stored), or a
new random one: generated credentials survive `helm upgrade`. Call with
(dict "ctx" $ "name" "secret-name" "key" "password").
*/}}
{{- define "ny-power.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 32 | b64enc }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every pod of the release.
*/}}
{{- define "ny-power.podCommon" -}}
serviceAccountName: {{ include "ny-power.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Environment shared by pump, co2 and archive: each connects as its own broker user, its password
read from the mounted Secret file. Call with (dict "ctx" $ "component" "pump").
*/}}
{{- define "ny-power.serviceEnv" -}}
{{- $ctx := .ctx }}
- name: MQTT_URL
  value: {{ include "ny-power.mqttUrl" $ctx | quote }}
- name: MQTT_USERNAME
  value: {{ (index $ctx.Values.mqtt.users .component).username | quote }}
- name: MQTT_PASSWORD_FILE
  value: /var/run/secrets/ny-power/mqtt/password
{{- $tls := include "ny-power.mqttTls" $ctx | fromYaml }}
{{- if $tls }}
- name: MQTT_CA_FILE
  value: /var/run/secrets/ny-power/mqtt-tls/ca.crt
{{- if $tls.clientCertificate }}
- name: MQTT_CLIENT_CERT_FILE
  value: /var/run/secrets/ny-power/mqtt-tls/tls.crt
- name: MQTT_CLIENT_KEY_FILE
  value: /var/run/secrets/ny-power/mqtt-tls/tls.key
{{- end }}
{{- end }}
- name: TOPIC_ROOT
  value: {{ $ctx.Values.topicRoot | quote }}
- name: HEALTH_ADDR
  value: {{ printf "0.0.0.0:%v" $ctx.Values.healthPort | quote }}
- name: RUST_LOG
  value: {{ $ctx.Values.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ $ctx.Values.logging.format | quote }}
{{- end }}

{{/*
Environment of the archiver's InfluxDB connection.
*/}}
{{- define "ny-power.influxEnv" -}}
- name: INFLUX_URL
  value: {{ include "ny-power.influxUrl" . | quote }}
{{- if .Values.influxdb.enabled }}
- name: INFLUX_DATABASE
  value: {{ .Values.influxdb.database | quote }}
- name: INFLUX_USERNAME
  value: {{ .Values.influxdb.user | quote }}
- name: INFLUX_PASSWORD_FILE
  value: /var/run/secrets/ny-power/influxdb/password
{{- else if eq .Values.externalInfluxdb.apiVersion "v2" }}
- name: INFLUX_ORG
  value: {{ required "externalInfluxdb.org is required for apiVersion v2" .Values.externalInfluxdb.org | quote }}
- name: INFLUX_BUCKET
  value: {{ required "externalInfluxdb.bucket is required for apiVersion v2" .Values.externalInfluxdb.bucket | quote }}
- name: INFLUX_TOKEN_FILE
  value: /var/run/secrets/ny-power/influxdb/token
{{- else }}
- name: INFLUX_DATABASE
  value: {{ required "externalInfluxdb.database is required for apiVersion v1" .Values.externalInfluxdb.database | quote }}
{{- if .Values.externalInfluxdb.username }}
- name: INFLUX_USERNAME
  value: {{ .Values.externalInfluxdb.username | quote }}
- name: INFLUX_PASSWORD_FILE
  value: /var/run/secrets/ny-power/influxdb/password
{{- end }}
{{- end }}
{{- end }}

{{/*
The Secret items the archiver mounts at /var/run/secrets/ny-power/influxdb (empty: no mount).
*/}}
{{- define "ny-power.influxSecretItems" -}}
{{- if .Values.influxdb.enabled }}
- key: {{ .Values.influxdb.userPasswordKey }}
  path: password
{{- else if eq .Values.externalInfluxdb.apiVersion "v2" }}
- key: {{ .Values.externalInfluxdb.tokenKey }}
  path: token
{{- else if .Values.externalInfluxdb.username }}
- key: {{ .Values.externalInfluxdb.passwordKey }}
  path: password
{{- end }}
{{- end }}

{{/*
The calculator's load forecast setting (LOAD_FORECAST): "off" or "nyiso". A bare `off` in a
values file is a YAML boolean: false reads as "off".
*/}}
{{- define "ny-power.loadForecast" -}}
{{- if eq (toString .Values.co2.loadForecast) "nyiso" }}nyiso{{ else }}off{{ end }}
{{- end }}
