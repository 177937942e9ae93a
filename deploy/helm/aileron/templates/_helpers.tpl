{{/* Names, labels, images and the pieces every Aileron Deployment shares. */}}

{{- define "aileron.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* fullname: "<release>-<chart>", or the release name when it already contains the chart name. Short enough for "-workspace-operator" suffixes. */}}
{{- define "aileron.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aileron.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. Deliberately no app.kubernetes.io/part-of=aileron: that label marks the operator's workspace children. */}}
{{- define "aileron.labels" -}}
helm.sh/chart: {{ include "aileron.chart" . }}
app.kubernetes.io/name: {{ include "aileron.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* componentLabels: dict "ctx" $ "component" "api" */}}
{{- define "aileron.componentLabels" -}}
{{ include "aileron.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aileron.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aileron.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* image: dict "ctx" $ "image" .Values.api.image. A digest wins over the tag; the tag defaults to appVersion. */}}
{{- define "aileron.image" -}}
{{- $repo := .image.repository -}}
{{- with .ctx.Values.global.imageRegistry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "aileron.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "aileron.api.tokensSecret" -}}
{{- .Values.api.auth.tokens.existingSecret | default (printf "%s-api-tokens" (include "aileron.fullname" .)) -}}
{{- end -}}

{{- define "aileron.api.tokensEnabled" -}}
{{- if or .Values.api.auth.tokens.existingSecret .Values.api.auth.tokens.bootstrapAdmin }}true{{ end -}}
{{- end -}}

{{/* The NATS URL the in-chart cluster answers on (credentials come from the auth Secret). */}}
{{- define "aileron.nats.host" -}}
{{- printf "%s-nats.%s.svc" (include "aileron.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The NATS users of the in-chart cluster, one per service that connects (space-separated): their permissions are files/nats-permissions.json. */}}
{{- define "aileron.nats.users" -}}
api firewall k8s-provisioner
{{- end -}}

{{- define "aileron.nats.authSecret" -}}
{{- printf "%s-nats-auth" (include "aileron.fullname" .) -}}
{{- end -}}

{{- define "aileron.firewallDefaultsName" -}}
{{- printf "%s-firewall-defaults" (include "aileron.fullname" .) -}}
{{- end -}}

{{/*
NATS connection of a service: env (AILERON_NATS_URL, AILERON_NATS_CREDS) and
the flags every service shares. The URL is in the environment, not a flag,
because with the in-chart NATS it carries the service's own user and
password from a Secret: dict "ctx" $ "user" "api" (aileron.nats.users).
*/}}
{{- define "aileron.nats.env" -}}
{{- $ctx := .ctx -}}
- name: AILERON_NATS_URL
{{- if $ctx.Values.nats.enabled }}
{{- if $ctx.Values.nats.auth.enabled }}
{{- if not (has .user (include "aileron.nats.users" $ctx | splitList " ")) }}
{{- fail (printf "aileron.nats.env: %q is not a NATS user of the chart (aileron.nats.users)" .user) }}
{{- end }}
  valueFrom:
    secretKeyRef:
      name: {{ include "aileron.nats.authSecret" $ctx }}
      key: {{ .user }}-url
{{- else }}
  value: {{ printf "nats://%s:4222" (include "aileron.nats.host" $ctx) | quote }}
{{- end }}
{{- else }}
  value: {{ $ctx.Values.nats.url | quote }}
{{- end }}
{{- if and (not $ctx.Values.nats.enabled) $ctx.Values.nats.credentialsSecret }}
- name: AILERON_NATS_CREDS
  value: /etc/aileron/nats/{{ $ctx.Values.nats.credentialsKey }}
{{- end }}
{{- end -}}

{{- define "aileron.nats.volumeMounts" -}}
{{- if and (not .Values.nats.enabled) .Values.nats.credentialsSecret }}
- name: nats-creds
  mountPath: /etc/aileron/nats
  readOnly: true
{{- end }}
{{- end -}}

{{- define "aileron.nats.volumes" -}}
{{- if and (not .Values.nats.enabled) .Values.nats.credentialsSecret }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.credentialsSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.nats.credentialsKey }}
        path: {{ .Values.nats.credentialsKey }}
{{- end }}
{{- end -}}

{{/* Common pod-spec tail: dict "ctx" $ "v" .Values.api */}}
{{- define "aileron.podScheduling" -}}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Spread replicas over nodes when the scheduler can; never blocks scheduling. */}}
{{- define "aileron.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "aileron.selectorLabels" . | nindent 8 }}
{{- end -}}

{{/* probes: the component's values; empty probe values render nothing. */}}
{{- define "aileron.probes" -}}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Cross-field checks the JSON schema cannot express, each failing with the field named. */}}
{{- define "aileron.validate" -}}
{{- if eq .Values.workspaces.namespace .Release.Namespace -}}
{{- fail (printf "workspaces.namespace %q must differ from the release namespace: workspace pods run users' code and get a namespace of their own" .Values.workspaces.namespace) -}}
{{- end -}}
{{- if .Values.nats.enabled -}}
{{- if .Values.nats.url -}}
{{- fail "nats.url is set but nats.enabled is true: set nats.enabled=false to use an existing NATS, or drop nats.url" -}}
{{- end -}}
{{- if .Values.nats.credentialsSecret -}}
{{- fail "nats.credentialsSecret is only for an existing NATS (nats.enabled=false); the in-chart NATS uses nats.auth" -}}
{{- end -}}
{{- if gt (int .Values.nats.replicas) (int .Values.nats.cluster.replicas) -}}
{{- fail (printf "nats.replicas (%d stream/KV replicas) cannot exceed nats.cluster.replicas (%d servers)" (int .Values.nats.replicas) (int .Values.nats.cluster.replicas)) -}}
{{- end -}}
{{- else if not .Values.nats.url -}}
{{- fail "nats.url is required when nats.enabled is false: point it at your NATS JetStream server, e.g. nats://nats.nats.svc:4222" -}}
{{- end -}}
{{- $auth := .Values.api.auth -}}
{{- if not (or $auth.oidc.issuer $auth.tokens.existingSecret $auth.tokens.bootstrapAdmin) -}}
{{- fail "api.auth: set api.auth.oidc.issuer, api.auth.tokens.existingSecret or api.auth.tokens.bootstrapAdmin=true: the api refuses to serve off loopback without authentication" -}}
{{- end -}}
{{- if and $auth.oidc.issuer (not $auth.oidc.audience) -}}
{{- fail "api.auth.oidc.audience is required with api.auth.oidc.issuer: it is the client id the tokens must be issued for" -}}
{{- end -}}
{{- end -}}

{{/*
deployment renders the Deployment of one Aileron service:
  dict "ctx" $ "component" "api" "v" .Values.api
       "args" (list ...) "ports" "<yaml list>" "env" "<yaml list>"
       "volumeMounts" "<yaml list>" "volumes" "<yaml list>"
       "automountToken" false "annotations" (dict ...)
*/}}
{{- define "aileron.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := .v -}}
{{- $sel := dict "ctx" $ctx "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "aileron.fullname" $ctx }}-{{ .component }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "aileron.componentLabels" $sel | nindent 4 }}
spec:
  replicas: {{ $v.replicas }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "aileron.selectorLabels" $sel | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "aileron.selectorLabels" $sel | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $ann := merge (dict) ($v.podAnnotations | default dict) (.annotations | default dict) }}
      {{- with $ann }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "aileron.fullname" $ctx }}-{{ .component }}
      automountServiceAccountToken: {{ .automountToken }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: 30
      securityContext:
        {{- toYaml $ctx.Values.podSecurityContext | nindent 8 }}
      {{- with (include "aileron.imagePullSecrets" $ctx) }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with (include "aileron.podScheduling" (dict "v" $v)) }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- include "aileron.topologySpread" $sel | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "aileron.image" (dict "ctx" $ctx "image" $v.image) | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          {{- $args := concat (.args | default list) ($v.extraArgs | default list) }}
          {{- with $args }}
          args:
            {{- range . }}
            - {{ . | quote }}
            {{- end }}
          {{- end }}
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: AILERON_LOG_LEVEL
              value: {{ $v.logLevel | quote }}
            {{- with ($ctx.Values.tracing).otlpEndpoint }}
            - name: AILERON_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- with ($ctx.Values.tracing).sampleRatio }}
            - name: OTEL_TRACES_SAMPLER
              value: parentbased_traceidratio
            - name: OTEL_TRACES_SAMPLER_ARG
              value: {{ . | quote }}
            {{- end }}
            {{- end }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with .ports }}
          ports:
            {{- . | nindent 12 }}
          {{- end }}
          {{- with (include "aileron.probes" $v) }}
          {{- . | nindent 10 }}
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $ctx.Values.containerSecurityContext | nindent 12 }}
          {{- with .volumeMounts }}
          volumeMounts:
            {{- . | nindent 12 }}
          {{- end }}
      {{- with .volumes }}
      volumes:
        {{- . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* serviceAccount: dict "ctx" $ "component" "api" "automountToken" false */}}
{{- define "aileron.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "aileron.fullname" .ctx }}-{{ .component }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "aileron.componentLabels" . | nindent 4 }}
  {{- with .ctx.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .automountToken }}
{{- end -}}

{{/* pdb: dict "ctx" $ "component" "api" "v" .Values.api */}}
{{- define "aileron.pdb" -}}
{{- if .v.pdb.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "aileron.fullname" .ctx }}-{{ .component }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "aileron.componentLabels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .v.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "aileron.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* nats.conf of the in-chart cluster: dict "ctx" $ "routes" (list) "users" (list) "passwords" (dict) "routePw" "..." */}}
{{- define "aileron.nats.conf" -}}
{{- $n := .ctx.Values.nats -}}
# Generated by the aileron chart.
server_name: $SERVER_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222

jetstream {
  store_dir: /data/jetstream
  max_file_store: {{ $n.jetstream.maxFileStore }}
  max_memory_store: {{ $n.jetstream.maxMemoryStore }}
  sync_interval: {{ $n.jetstream.syncInterval }}
}
{{- if $n.auth.enabled }}

{{- $perms := .ctx.Files.Get "files/nats-permissions.json" | fromJson }}

# One user per service, each allowed only its own subjects, streams, buckets
# and consumers (pkg/bus/permission.go; docs/install.md lists them).
authorization {
  users: [
    {{- range $u := .users }}
    {{- $p := index $perms.users $u }}
    {{- if not $p }}
    {{- fail (printf "files/nats-permissions.json has no user %q: run go run ./pkg/bus/gen" $u) }}
    {{- end }}
    {
      user: {{ $u | quote }}
      password: {{ index $.passwords $u | quote }}
      permissions: {
        publish: {
          allow: [
            {{- range $p.publish }}
            {{ . | quote }}
            {{- end }}
          ]
        }
        subscribe: {
          allow: [
            {{- range $p.subscribe }}
            {{ . | quote }}
            {{- end }}
          ]
        }
      }
    }
    {{- end }}
  ]
}
{{- end }}

cluster {
  name: {{ $n.cluster.name | quote }}
  listen: 0.0.0.0:6222
  # A peer that falls silent (its node or link lost: no reset) is dropped
  # after more than ping_max unanswered pings, 15-20s; until then the
  # requests routed to it, such as the KV reads any replica may answer,
  # time out (docs/nats-cluster.md). The default is 2 minutes, twice.
  ping_interval: "5s"
  ping_max: 3
  {{- if $n.auth.enabled }}
  authorization {
    user: route
    password: {{ .routePw | quote }}
  }
  {{- end }}
  routes: [
    {{- range .routes }}
    {{ . | quote }}
    {{- end }}
  ]
}
{{- end -}}

{{/*
metricsTargets: the components that serve /metrics, as YAML: the short name
of their metrics Service, the container port that serves it and its number.
The firewall serves /metrics beside its health endpoints.
*/}}
{{- define "aileron.metricsTargets" -}}
api: {short: api, port: metrics, number: {{ .Values.api.metricsPort }}}
firewall: {short: firewall, port: health, number: {{ .Values.firewall.healthPort }}}
k8s-provisioner: {short: provisioner, port: metrics, number: {{ .Values.k8sProvisioner.metricsPort }}}
workspace-operator: {short: operator, port: metrics, number: {{ .Values.workspaceOperator.metricsPort }}}
{{- end -}}

{{/* serviceMonitorEnabled: "true" when metrics.serviceMonitor.enabled is true, or "auto" and the cluster serves ServiceMonitors. */}}
{{- define "aileron.serviceMonitorEnabled" -}}
{{- $e := toString .Values.metrics.serviceMonitor.enabled -}}
{{- if or (eq $e "true") (and (eq $e "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
true
{{- end -}}
{{- end -}}
