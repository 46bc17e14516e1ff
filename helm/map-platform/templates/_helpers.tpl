{{/* Names, labels and the pieces every pod shares. */}}
{{- define "map.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{/* the labels of every object but the selector's (see map.selector) */}}
{{- define "map.commonLabels" -}}
app.kubernetes.io/part-of: map-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* the labels of an object that is no component's (Secrets, policies) */}}
{{- define "map.labels" -}}
{{ include "map.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* selector labels of one component: dict "root" $ "component" "auth-api" */}}
{{- define "map.selector" -}}
app.kubernetes.io/name: map-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "map.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "map.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "map.fullname" .)) -}}
{{- end -}}

{{/* an env var from the chart's (or the existing) Secret: dict "root" $ "name" "MAP_X" "key" "k" */}}
{{- define "map.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "map.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{- define "map.grace" -}}
{{ add .Values.shutdownGraceSeconds .Values.terminationGraceExtraSeconds }}
{{- end -}}

{{/* the pod-level settings every pod shares */}}
{{- define "map.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "map.topology" -}}
{{- if .root.Values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "map.selector" . | nindent 8 }}
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "map.selector" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* native gRPC probes on port: readiness = empty service (follows the database), liveness = "liveness" */}}
{{- define "map.probes" -}}
readinessProbe:
  grpc:
    port: {{ . }}
    service: ""
  periodSeconds: 5
  failureThreshold: 3
livenessProbe:
  grpc:
    port: {{ . }}
    service: liveness
  initialDelaySeconds: 5
  periodSeconds: 10
  failureThreshold: 3
{{- end -}}

{{/* the environment every process of one system shares: dict "root" $ "system" "tts" */}}
{{- define "map.systemEnv" -}}
{{- $root := .root -}}
{{ include "map.secretEnv" (dict "root" $root "name" "MAP_DATABASE_URL" "key" (printf "database-url-%s" .system)) }}
- name: MAP_LOG_FORMAT
  value: {{ $root.Values.log.format | quote }}
- name: MAP_LOG
  value: {{ $root.Values.log.filter | quote }}
- name: MAP_SHUTDOWN_GRACE
  value: "{{ $root.Values.shutdownGraceSeconds }}s"
{{- if eq .system "hdts" }}
- name: MAP_HDTS_AUTO_CLOSE_AFTER
  value: {{ $root.Values.helpDesk.autoCloseAfter | quote }}
{{- end }}
{{- if ne .system "auth" }}
{{- if include "map.tls.on" $root }}
- name: MAP_AUTH_URL
  value: "https://{{ include "map.fullname" $root }}-auth:{{ $root.Values.systems.auth.port }}"
- name: MAP_AUTH_TLS_CA
  value: /etc/map/tls/ca.crt
{{- if include "map.tls.mutual" $root }}
- name: MAP_AUTH_TLS_CERT
  value: /etc/map/tls/tls.crt
- name: MAP_AUTH_TLS_KEY
  value: /etc/map/tls/tls.key
{{- end }}
{{- else }}
- name: MAP_AUTH_URL
  value: "http://{{ include "map.fullname" $root }}-auth:{{ $root.Values.systems.auth.port }}"
{{- end }}
{{ include "map.secretEnv" (dict "root" $root "name" "MAP_AUTH_API_KEY" "key" (printf "api-key-%s" .system)) }}
{{- end }}
{{- end -}}

{{/* "true" when every in-cluster hop speaks TLS (tls.enabled, or the shared tls.existingSecret) */}}
{{- define "map.tls.on" -}}
{{- if or .Values.tls.enabled .Values.tls.existingSecret }}true{{ end -}}
{{- end -}}

{{/* "true" when the hops are mutual TLS */}}
{{- define "map.tls.mutual" -}}
{{- if and (include "map.tls.on" .) .Values.tls.mutual }}true{{ end -}}
{{- end -}}

{{/* the TLS Secret of one component: dict "root" $ "component" "tts" */}}
{{- define "map.tls.secret" -}}
{{- $r := .root -}}
{{- $r.Values.tls.existingSecret | default (index ($r.Values.tls.secrets | default dict) .component) | default (printf "%s-%s-tls" (include "map.fullname" $r) .component) -}}
{{- end -}}

{{/* the volumes of a pod: dict "root" $ "component" "tts" (its TLS Secret when TLS is on) */}}
{{- define "map.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- if include "map.tls.on" .root }}
  - name: tls
    secret:
      secretName: {{ include "map.tls.secret" . }}
  {{- end }}
{{- end -}}

{{- define "map.mounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- if include "map.tls.on" . }}
  - name: tls
    mountPath: /etc/map/tls
    readOnly: true
  {{- end }}
{{- end -}}

{{/* an API's TLS: its certificate, and the CA its callers' certificates must chain to (mTLS) */}}
{{- define "map.tlsEnv" -}}
{{- if include "map.tls.on" . }}
- name: MAP_TLS_CERT
  value: /etc/map/tls/tls.crt
- name: MAP_TLS_KEY
  value: /etc/map/tls/tls.key
{{- if include "map.tls.mutual" . }}
- name: MAP_TLS_CLIENT_CA
  value: /etc/map/tls/ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{/* the port an API's probes ask: its own, or with TLS on its plaintext health port (+2000) */}}
{{- define "map.apiProbePort" -}}
{{- if include "map.tls.on" .root }}{{ add .port 2000 }}{{ else }}{{ .port }}{{ end -}}
{{- end -}}

{{/* the init container applying a system's migrations (map migrate takes an advisory lock) */}}
{{- define "map.migrateInit" -}}
{{- $root := .root -}}
initContainers:
  - name: migrate
    image: {{ include "map.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: ["migrate", {{ .system | quote }}]
    env:
      {{- include "map.secretEnv" (dict "root" $root "name" "MAP_DATABASE_URL" "key" (printf "database-url-%s" .system)) | nindent 6 }}
      - name: MAP_LOG_FORMAT
        value: {{ $root.Values.log.format | quote }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
{{- end -}}

{{/* egress to the cluster's DNS: networkPolicy.dns (namespace and pod labels, port) */}}
{{- define "map.np.dns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .namespaceLabels | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml .podLabels | nindent 10 }}
  ports:
    - {protocol: UDP, port: {{ .port }}}
    - {protocol: TCP, port: {{ .port }}}
{{- end -}}
{{- define "map.np.cidrs" -}}
{{- if .cidrs }}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .port }}}
{{- end }}
{{- end -}}
