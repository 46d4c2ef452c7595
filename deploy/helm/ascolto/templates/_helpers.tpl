{{/* Names and labels. */}}
{{- define "ascolto.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* ascolto.labels (dict "root" $ "component" "worker") */}}
{{- define "ascolto.labels" -}}
{{ include "ascolto.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "ascolto.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The Prometheus job a component's pods are scraped as: the names the rules select on. */}}
{{- define "ascolto.job" -}}
{{- if eq .component "ingest" }}ascolto-ingest
{{- else if eq .component "nudger" }}ascolto-nudger
{{- else }}ascolto-worker{{ end -}}
{{- end -}}

{{/* The secret holding a Kafka user's password or certificate ("" if none):
     ascolto.kafkaUserSecret (dict "root" $ "user" "worker") */}}
{{- define "ascolto.kafkaUserSecret" -}}
{{- $u := index .root.Values.kafka.users .user -}}
{{- if $u.secretName }}{{ $u.secretName }}
{{- else if $u.password }}{{ include "ascolto.fullname" .root }}-kafka-{{ .user }}
{{- end -}}
{{- end -}}

{{- define "ascolto.esAuthSecret" -}}
{{- $a := .Values.elasticsearch.auth -}}
{{- if $a.secretName }}{{ $a.secretName }}
{{- else if or $a.apiKey $a.password }}{{ include "ascolto.fullname" . }}-elasticsearch
{{- end -}}
{{- end -}}

{{- define "ascolto.configFiles" -}}
{{- with .Values.config -}}
{{- if or .slaPolicies .intents .customers }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every process: ascolto.env (dict "root" $ "user" "worker")
     With "noElasticsearch" in the dict: Elasticsearch's URL only, no CA or credentials. */}}
{{- define "ascolto.env" -}}
{{- $v := .root.Values -}}
{{- $k := $v.kafka -}}
{{- $u := index $k.users .user -}}
{{- $userSecret := include "ascolto.kafkaUserSecret" . -}}
{{- $es := $v.elasticsearch -}}
- name: ASCOLTO_HOST
  value: 0.0.0.0
- name: ASCOLTO_RUN_DIR
  value: /var/lib/ascolto
- name: ASCOLTO_APP_ID
  value: {{ $v.config.appId | quote }}
- name: ASCOLTO_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required" $k.bootstrap | quote }}
- name: ASCOLTO_TOPIC_PREFIX
  value: {{ $k.topicPrefix | quote }}
- name: ASCOLTO_PARTITIONS
  value: {{ $k.partitions | quote }}
- name: ASCOLTO_REPLICATION_FACTOR
  value: {{ $k.replicationFactor | quote }}
- name: ASCOLTO_MIN_INSYNC_REPLICAS
  value: {{ $k.minInsyncReplicas | quote }}
- name: ASCOLTO_RETENTION_DAYS
  value: {{ $k.retention.days | quote }}
- name: ASCOLTO_DLQ_RETENTION_DAYS
  value: {{ $k.retention.dlqDays | quote }}
- name: ASCOLTO_AUDIT_RETENTION_DAYS
  value: {{ $k.retention.auditDays | quote }}
- name: ASCOLTO_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if hasPrefix "SASL_" $k.securityProtocol }}
{{- if not $userSecret }}
{{- fail (printf "kafka.users.%s: %s needs its secretName (or a password)" .user $k.securityProtocol) }}
{{- end }}
- name: ASCOLTO_KAFKA_SASL_MECHANISM
  value: {{ $k.saslMechanism | quote }}
- name: ASCOLTO_KAFKA_SASL_USERNAME
  value: {{ $u.username | quote }}
- name: ASCOLTO_KAFKA_SASL_PASSWORD_FILE
  value: /etc/ascolto/kafka-user/{{ $u.passwordKey }}
{{- end }}
{{- if $k.ca.secretName }}
- name: ASCOLTO_KAFKA_SSL_CAFILE
  value: /etc/ascolto/kafka-ca/{{ $k.ca.key }}
{{- end }}
{{- if and $userSecret $u.certKey }}
- name: ASCOLTO_KAFKA_SSL_CERTFILE
  value: /etc/ascolto/kafka-user/{{ $u.certKey }}
- name: ASCOLTO_KAFKA_SSL_KEYFILE
  value: /etc/ascolto/kafka-user/{{ $u.keyKey }}
{{- end }}
- name: ASCOLTO_ES_URL
  value: {{ $es.url | quote }}
- name: ASCOLTO_INDEX_PREFIX
  value: {{ $es.indexPrefix | quote }}
- name: ASCOLTO_ES_SHARDS
  value: {{ $es.shards | quote }}
- name: ASCOLTO_ES_REPLICAS
  value: {{ $es.replicas | quote }}
- name: ASCOLTO_ES_CONTACTS_RETENTION_DAYS
  value: {{ $es.retention.contactsDays | quote }}
- name: ASCOLTO_ES_CONVERSATIONS_RETENTION_DAYS
  value: {{ $es.retention.conversationsDays | quote }}
- name: ASCOLTO_ES_SLA_EVENTS_RETENTION_DAYS
  value: {{ $es.retention.slaEventsDays | quote }}
{{- if hasKey . "noElasticsearch" }}
{{- /* a process that only names Elasticsearch (the nudger's links) gets no credentials */}}
{{- else }}
{{- if $es.ca.secretName }}
- name: ASCOLTO_ES_CA_CERTS
  value: /etc/ascolto/es-ca/{{ $es.ca.key }}
{{- end }}
{{- if eq $es.auth.type "apiKey" }}
- name: ASCOLTO_ES_API_KEY_FILE
  value: /etc/ascolto/es-auth/{{ $es.auth.apiKeyKey }}
{{- else if eq $es.auth.type "basic" }}
- name: ASCOLTO_ES_USERNAME
  value: {{ required "elasticsearch.auth.username is required with type basic" $es.auth.username | quote }}
- name: ASCOLTO_ES_PASSWORD_FILE
  value: /etc/ascolto/es-auth/{{ $es.auth.passwordKey }}
{{- else if ne $es.auth.type "none" }}
{{- fail "elasticsearch.auth.type: none, apiKey or basic" }}
{{- end }}
{{- end }}
{{- if $v.config.slaPolicies }}
- name: ASCOLTO_SLA_POLICIES
  value: /etc/ascolto/config/sla-policies.yaml
{{- end }}
{{- if $v.config.intents }}
- name: ASCOLTO_INTENTS
  value: /etc/ascolto/config/intents.yaml
{{- end }}
{{- range $name, $value := $v.config.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Volumes every process mounts: ascolto.volumes (dict "root" $ "user" "worker" "data" true)
     "data": false when the data volume comes from elsewhere (the worker's PVC). */}}
{{- define "ascolto.volumes" -}}
{{- $v := .root.Values -}}
{{- $userSecret := include "ascolto.kafkaUserSecret" . -}}
{{- $esSecret := include "ascolto.esAuthSecret" .root -}}
{{- $es := not (hasKey . "noElasticsearch") -}}
- name: tmp
  emptyDir: {}
{{- if .data }}
- name: data
  emptyDir: {}
{{- end }}
{{- if include "ascolto.configFiles" .root }}
- name: config
  configMap:
    name: {{ include "ascolto.fullname" .root }}-config
{{- end }}
{{- if $userSecret }}
- name: kafka-user
  secret:
    secretName: {{ $userSecret }}
{{- end }}
{{- if $v.kafka.ca.secretName }}
- name: kafka-ca
  secret:
    secretName: {{ $v.kafka.ca.secretName }}
{{- end }}
{{- if and $es $esSecret (ne $v.elasticsearch.auth.type "none") }}
- name: es-auth
  secret:
    secretName: {{ $esSecret }}
{{- end }}
{{- if and $es $v.elasticsearch.ca.secretName }}
- name: es-ca
  secret:
    secretName: {{ $v.elasticsearch.ca.secretName }}
{{- end }}
{{- if eq .user "ingest" }}
{{ include "ascolto.ingestVolumes" .root }}
{{- end }}
{{- end -}}

{{- define "ascolto.volumeMounts" -}}
{{- $v := .root.Values -}}
{{- $esSecret := include "ascolto.esAuthSecret" .root -}}
{{- $es := not (hasKey . "noElasticsearch") -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/ascolto
{{- if include "ascolto.configFiles" .root }}
- name: config
  mountPath: /etc/ascolto/config
  readOnly: true
{{- end }}
{{- if include "ascolto.kafkaUserSecret" . }}
- name: kafka-user
  mountPath: /etc/ascolto/kafka-user
  readOnly: true
{{- end }}
{{- if $v.kafka.ca.secretName }}
- name: kafka-ca
  mountPath: /etc/ascolto/kafka-ca
  readOnly: true
{{- end }}
{{- if and $es $esSecret (ne $v.elasticsearch.auth.type "none") }}
- name: es-auth
  mountPath: /etc/ascolto/es-auth
  readOnly: true
{{- end }}
{{- if and $es $v.elasticsearch.ca.secretName }}
- name: es-ca
  mountPath: /etc/ascolto/es-ca
  readOnly: true
{{- end }}
{{- if eq .user "ingest" }}
{{ include "ascolto.ingestVolumeMounts" .root }}
{{- end }}
{{- end -}}

{{/* The pod spec's shared part, before `containers`: ascolto.podCommon (dict "root" $ "c" .Values.worker) */}}
{{- define "ascolto.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .c.terminationGracePeriodSeconds | default 30 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A container's shared part: ascolto.containerCommon (dict "root" $ "c" .Values.worker "user" "worker") */}}
{{- define "ascolto.containerCommon" -}}
image: {{ printf "%s:%s" .root.Values.image.repository (.root.Values.image.tag | toString) | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
resources:
  {{- toYaml .c.resources | nindent 2 }}
volumeMounts:
  {{- include "ascolto.volumeMounts" . | nindent 2 }}
{{- end -}}

{{/* Pod annotations: the component's own, and checksums that roll the pods when a file or a
     secret the chart makes changes. */}}
{{- define "ascolto.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/config.yaml") .root | sha256sum }}
checksum/secrets: {{ include (print .root.Template.BasePath "/secrets.yaml") .root | sha256sum }}
{{- with .c.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An HTTP probe: ascolto.httpProbe (dict "path" "/readyz" "port" "web" ["scheme" "HTTPS"]) */}}
{{- define "ascolto.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
  {{- with .scheme }}
  scheme: {{ . }}
  {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget: ascolto.pdb (dict "root" $ "component" "worker" "pdb" .Values.worker.pdb) */}}
{{- define "ascolto.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "ascolto.fullname" .root }}-{{ .component }}
  labels:
    {{- include "ascolto.labels" . | nindent 4 }}
spec:
  {{- toYaml .pdb | nindent 2 }}
  selector:
    matchLabels:
      {{- include "ascolto.selectorLabels" . | nindent 6 }}
{{- end -}}
