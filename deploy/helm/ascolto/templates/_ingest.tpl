{{/* Ingest's own: its API key store, signing secret and TLS (values ingest.keys,
     ingest.signingSecret, ingest.tls; docs/ingest-api.md). Each takes the root context. */}}

{{- define "ascolto.ingestKeysSecret" -}}
{{- required "ingest.keys.secretName: name the Secret holding ingest's API key store (ingest does not start without one; docs/deploying.md, \"Ingest API keys\")" .Values.ingest.keys.secretName -}}
{{- end -}}

{{- define "ascolto.ingestEnv" -}}
{{- $i := .Values.ingest -}}
- name: ASCOLTO_INGEST_KEYS_FILE
  value: /etc/ascolto/ingest-keys/{{ $i.keys.key }}
{{- if $i.signingSecret.secretName }}
- name: ASCOLTO_INGEST_SIGNING_SECRET_FILE
  value: /etc/ascolto/ingest-signing/{{ $i.signingSecret.key }}
{{- end }}
{{- if $i.tls.secretName }}
- name: ASCOLTO_INGEST_TLS_CERTFILE
  value: /etc/ascolto/ingest-tls/tls.crt
- name: ASCOLTO_INGEST_TLS_KEYFILE
  value: /etc/ascolto/ingest-tls/tls.key
{{- end }}
{{- end -}}

{{/* Whole Secrets as directories, never subPath: the kubelet updates those in place. */}}
{{- define "ascolto.ingestVolumes" -}}
{{- $i := .Values.ingest -}}
- name: ingest-keys
  secret:
    secretName: {{ include "ascolto.ingestKeysSecret" . }}
    defaultMode: 0440
{{- if $i.signingSecret.secretName }}
- name: ingest-signing
  secret:
    secretName: {{ $i.signingSecret.secretName }}
    defaultMode: 0440
{{- end }}
{{- if $i.tls.secretName }}
- name: ingest-tls
  secret:
    secretName: {{ $i.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "ascolto.ingestVolumeMounts" -}}
{{- $i := .Values.ingest -}}
- name: ingest-keys
  mountPath: /etc/ascolto/ingest-keys
  readOnly: true
{{- if $i.signingSecret.secretName }}
- name: ingest-signing
  mountPath: /etc/ascolto/ingest-signing
  readOnly: true
{{- end }}
{{- if $i.tls.secretName }}
- name: ingest-tls
  mountPath: /etc/ascolto/ingest-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "ascolto.ingestScheme" -}}
{{- if .Values.ingest.tls.secretName }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}
