package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"aileron.dev/pkg/config"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/firewall/cilium"
	"aileron.dev/services/k8s-provisioner/internal/controller"
)

func TestParse(t *testing.T) {
	defaults := Config{
		LeaderElect:        true,
		Workers:            4,
		MetricsBindAddress: ":8080",
		Health:             config.Health{Addr: ":8081"},
		SyncPeriod:         10 * time.Minute,
		Log:                config.Log{Level: slog.LevelInfo, Format: "json"},
	}
	with := func(change func(*Config)) Config {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, nil, defaults},
		{
			"flags",
			[]string{
				"--namespace=aileron-workspaces", "--leader-elect=false", "--leader-election-namespace=aileron-system",
				"--metrics-bind-address=0", "--health-probe-bind-address=", "--defaults-configmap=aileron-system/fw-defaults",
				"--sync-period=30s", "--log-level=debug", "--workers=8", "--otlp-endpoint=http://collector:4318",
			},
			nil,
			Config{
				Workers: 8, Namespace: "aileron-workspaces", LeaderElectionNamespace: "aileron-system",
				MetricsBindAddress: "0", DefaultsConfigMap: types.NamespacedName{Namespace: "aileron-system", Name: "fw-defaults"},
				SyncPeriod: 30 * time.Second, Log: config.Log{Level: slog.LevelDebug, Format: "json"},
				Trace: telemetry.Config{Endpoint: "http://collector:4318"},
			},
		},
		{
			"environment",
			nil,
			map[string]string{
				"AILERON_WORKSPACE_NAMESPACE": "ws", "AILERON_LEADER_ELECT": "false",
				"AILERON_LEADER_ELECTION_NAMESPACE": "sys", "AILERON_METRICS_BIND_ADDRESS": "127.0.0.1:9090",
				"AILERON_HEALTH_PROBE_BIND_ADDRESS": ":9091", "AILERON_FIREWALL_DEFAULTS_CONFIGMAP": "sys/fw",
				"AILERON_SYNC_PERIOD": "1h", "AILERON_LOG_LEVEL": "warn", "AILERON_OTLP_ENDPOINT": "collector:4318",
			},
			Config{
				Workers: 4, Namespace: "ws", LeaderElectionNamespace: "sys", MetricsBindAddress: "127.0.0.1:9090",
				Health: config.Health{Addr: ":9091"}, DefaultsConfigMap: types.NamespacedName{Namespace: "sys", Name: "fw"},
				SyncPeriod: time.Hour, Log: config.Log{Level: slog.LevelWarn, Format: "json"},
				Trace: telemetry.Config{Endpoint: "collector:4318"},
			},
		},
		{
			"the standard OpenTelemetry variable",
			nil,
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"},
			with(func(c *Config) { c.Trace.Endpoint = "http://otel:4318" }),
		},
		{
			"flag beats environment",
			[]string{"--namespace=from-flag", "--leader-elect"},
			map[string]string{"AILERON_WORKSPACE_NAMESPACE": "from-env", "AILERON_LEADER_ELECT": "false"},
			with(func(c *Config) { c.Namespace = "from-flag" }),
		},
		{
			"bare configmap name in the pod's namespace",
			[]string{"--defaults-configmap=fw", "--leader-election-namespace=lease-ns"},
			map[string]string{"POD_NAMESPACE": "pod-ns"},
			with(func(c *Config) {
				c.LeaderElectionNamespace = "lease-ns"
				c.DefaultsConfigMap = types.NamespacedName{Namespace: "pod-ns", Name: "fw"}
			}),
		},
		{
			"bare configmap name in the lease namespace",
			[]string{"--defaults-configmap=fw", "--leader-election-namespace=lease-ns"},
			nil,
			with(func(c *Config) {
				c.LeaderElectionNamespace = "lease-ns"
				c.DefaultsConfigMap = types.NamespacedName{Namespace: "lease-ns", Name: "fw"}
			}),
		},
		{
			"front door in the pod's namespace",
			[]string{"--front-door-labels=app.kubernetes.io/component=api,app.kubernetes.io/instance=a"},
			map[string]string{"POD_NAMESPACE": "pod-ns"},
			with(func(c *Config) {
				c.FrontDoor = cilium.Peer{Namespace: "pod-ns", Labels: map[string]string{"app.kubernetes.io/component": "api", "app.kubernetes.io/instance": "a"}}
			}),
		},
		{
			"front door namespace from the environment",
			nil,
			map[string]string{"AILERON_FRONT_DOOR_LABELS": "c=api", "AILERON_FRONT_DOOR_NAMESPACE": "sys", "POD_NAMESPACE": "pod-ns"},
			with(func(c *Config) { c.FrontDoor = cilium.Peer{Namespace: "sys", Labels: map[string]string{"c": "api"}} }),
		},
		{
			"chart's flag name",
			[]string{"--firewall-defaults-configmap=sys/fw"},
			map[string]string{"AILERON_FIREWALL_DEFAULTS_CONFIGMAP": "env/ignored"},
			with(func(c *Config) { c.DefaultsConfigMap = types.NamespacedName{Namespace: "sys", Name: "fw"} }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.args, func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"unknown flag", []string{"--replicas=2"}, nil, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"bad namespace", []string{"--namespace=Not_A_Namespace"}, nil, "--namespace"},
		{"bad lease namespace", []string{"--leader-election-namespace=a.b"}, nil, "--leader-election-namespace"},
		{"bad metrics address", []string{"--metrics-bind-address=8080"}, nil, "--metrics-bind-address"},
		{"bad health address", []string{"--health-probe-bind-address=localhost"}, nil, "--health-addr"},
		{"configmap without namespace", []string{"--defaults-configmap=fw"}, nil, "has no namespace"},
		{"configmap with two slashes", []string{"--defaults-configmap=a/b/c"}, nil, "want namespace/name"},
		{"bad configmap name", []string{"--defaults-configmap=ns/FW"}, nil, "not a ConfigMap name"},
		{"front door labels not k=v", []string{"--front-door-labels=api", "--front-door-namespace=sys"}, nil, "--front-door-labels"},
		{"front door without a namespace", []string{"--front-door-labels=c=api"}, nil, "--front-door-namespace"},
		{"bad front door namespace", []string{"--front-door-labels=c=api", "--front-door-namespace=Sys"}, nil, "--front-door-namespace"},
		{"zero sync period", []string{"--sync-period=0s"}, nil, "--sync-period"},
		{"bad log level", []string{"--log-level=loud"}, nil, "log-level"},
		{"malformed environment", nil, map[string]string{"AILERON_LEADER_ELECT": "maybe"}, `AILERON_LEADER_ELECT="maybe"`},
		{"malformed duration in environment", nil, map[string]string{"AILERON_SYNC_PERIOD": "often"}, "AILERON_SYNC_PERIOD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, func(k string) string { return tt.env[k] })
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestManagerOptions(t *testing.T) {
	c, err := parse([]string{"--namespace=ws", "--leader-elect=false", "--defaults-configmap=sys/fw", "--sync-period=1m"},
		func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, controller.ManagerOptions{
		Namespace:              "ws",
		DisableLeaderElection:  true,
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		SyncPeriod:             time.Minute,
		Reconciler:             controller.Config{DefaultsConfigMap: types.NamespacedName{Namespace: "sys", Name: "fw"}, Workers: 4},
	}, c.managerOptions())
}

func TestPlainLevels(t *testing.T) {
	var buf bytes.Buffer
	log := config.Log{Level: slog.LevelDebug, Format: config.FormatJSON}.Logger(&buf)
	logr.FromSlogHandler(log.Handler()).V(1).Info("verbose")
	log.Warn("warning")
	require.Contains(t, buf.String(), `"level":"DEBUG","msg":"verbose"`)
	require.Contains(t, buf.String(), `"level":"WARN","msg":"warning"`)
}

// TestRunSetsUpTracing: run installs tracing from --otlp-endpoint before it
// needs a cluster, so a malformed endpoint is refused by name.
func TestRunSetsUpTracing(t *testing.T) {
	err := run(t.Context(), []string{"--otlp-endpoint=ftp://collector:4318"}, func(string) string { return "" })
	require.ErrorContains(t, err, "otlp-endpoint")
}
