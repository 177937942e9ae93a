package config_test

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"aileron.dev/pkg/config"
)

func TestEnvName(t *testing.T) {
	tests := []struct{ prefix, flag, want string }{
		{config.Prefix, "nats-url", "AILERON_NATS_URL"},
		{config.Prefix, "log-level", "AILERON_LOG_LEVEL"},
		{config.Prefix, "replicas", "AILERON_REPLICAS"},
		{"AILERON_DOCKER_", "config", "AILERON_DOCKER_CONFIG"},
		{"EGRESS_", "policy-file", "EGRESS_POLICY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			require.Equal(t, tt.want, config.EnvName(tt.prefix, tt.flag))
		})
	}
}

// settings is a binary's configuration as the tests register it.
type settings struct {
	NATS   config.NATS
	Log    config.Log
	Health config.Health
	Wait   time.Duration
	Debug  bool
	Addr   string
	Listen config.List
}

func newSet(c *settings) *config.Set {
	s := config.NewSet("test", config.Prefix)
	c.NATS = config.DefaultNATS()
	c.Log = config.DefaultLog()
	c.Health = config.Health{Addr: ":8081"}
	c.NATS.Register(s)
	c.Log.Register(s)
	c.Health.Register(s)
	s.DurationVar(&c.Wait, "wait", time.Second, "how long")
	s.BoolVar(&c.Debug, "debug", false, "debug")
	s.StringVar(&c.Addr, "http", ":3001", "listen address")
	s.SetEnv("http", "AILERON_HTTP_ADDR")
	s.Var(&c.Listen, "listen", "repeatable")
	s.Alias("nats", "nats-url")
	return s
}

func TestParse(t *testing.T) {
	defaults := settings{
		NATS:   config.NATS{URL: "nats://127.0.0.1:4222", Replicas: 1},
		Log:    config.Log{Level: slog.LevelInfo, Format: "json"},
		Health: config.Health{Addr: ":8081"},
		Wait:   time.Second,
		Addr:   ":3001",
	}
	with := func(change func(*settings)) settings {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want settings
	}{
		{"defaults", nil, nil, defaults},
		{
			"variables named after the flags",
			nil,
			map[string]string{
				"AILERON_NATS_URL": "nats://n:4222", "AILERON_NATS_CREDS": "/c", "AILERON_REPLICAS": "3",
				"AILERON_STREAM_MAX_BYTES": "2147483648", "AILERON_AUDIT_MAX_BYTES": "65536",
				"AILERON_LOG_LEVEL": "debug", "AILERON_LOG_FORMAT": "text", "AILERON_HEALTH_ADDR": "",
				"AILERON_WAIT": "1m", "AILERON_DEBUG": "true", "AILERON_LISTEN": "a=:1, b=:2,",
			},
			with(func(c *settings) {
				c.NATS = config.NATS{URL: "nats://n:4222", Creds: "/c", Replicas: 3, StreamMaxBytes: 2 << 30, AuditMaxBytes: 64 << 10}
				c.Log = config.Log{Level: slog.LevelDebug, Format: "text"}
				c.Wait, c.Debug, c.Listen = time.Minute, true, config.List{"a=:1", "b=:2"}
			}),
		},
		{
			"a kept name replaces the derived one",
			nil,
			map[string]string{"AILERON_HTTP_ADDR": ":80", "AILERON_HTTP": ":81"},
			with(func(c *settings) { c.Addr = ":80" }),
		},
		{
			"the command line wins",
			[]string{"--nats-url=nats://flag:4222", "--replicas", "5", "--debug=false", "--listen", "x=:1", "--health-addr="},
			map[string]string{
				"AILERON_NATS_URL": "nats://env:4222", "AILERON_REPLICAS": "3", "AILERON_DEBUG": "true",
				"AILERON_LISTEN": "y=:2", "AILERON_HEALTH_ADDR": ":9",
			},
			with(func(c *settings) {
				c.NATS.URL, c.NATS.Replicas, c.Listen, c.Health.Addr = "nats://flag:4222", 5, config.List{"x=:1"}, ""
			}),
		},
		{
			"an alias counts as its flag",
			[]string{"--nats", "nats://alias:4222"},
			map[string]string{"AILERON_NATS_URL": "nats://env:4222"},
			with(func(c *settings) { c.NATS.URL = "nats://alias:4222" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got settings
			s := newSet(&got)
			require.NoError(t, s.ParseEnv(tt.args, func(k string) string { return tt.env[k] }))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseRefusesMalformedVariables(t *testing.T) {
	tests := []struct {
		name, variable, value, flag string
	}{
		{"int", "AILERON_REPLICAS", "three", "--replicas"},
		{"duration", "AILERON_WAIT", "soon", "--wait"},
		{"bool", "AILERON_DEBUG", "maybe", "--debug"},
		{"level", "AILERON_LOG_LEVEL", "loud", "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c settings
			err := newSet(&c).ParseEnv(nil, func(k string) string {
				if k == tt.variable {
					return tt.value
				}
				return ""
			})
			require.ErrorIs(t, err, config.ErrMalformed)
			require.ErrorContains(t, err, tt.variable+`="`+tt.value+`"`)
			require.ErrorContains(t, err, tt.flag)
		})
	}
}

func TestEnvNames(t *testing.T) {
	var c settings
	s := newSet(&c)
	require.Equal(t, []string{
		"AILERON_AUDIT_MAX_BYTES", "AILERON_DEBUG", "AILERON_HEALTH_ADDR", "AILERON_HTTP_ADDR", "AILERON_LISTEN", "AILERON_LOG_FORMAT",
		"AILERON_LOG_LEVEL", "AILERON_NATS_CREDS", "AILERON_NATS_URL", "AILERON_REPLICAS", "AILERON_STREAM_MAX_BYTES", "AILERON_WAIT",
	}, s.EnvNames(), "an alias has no variable")
	s.SetEnv("debug")
	require.Empty(t, s.Env("debug"))
	var usage bytes.Buffer
	s.SetOutput(&usage)
	require.True(t, errors.Is(s.ParseEnv([]string{"-h"}, func(string) string { return "" }), flag.ErrHelp))
	require.Contains(t, usage.String(), "(env AILERON_NATS_URL)")
	require.Contains(t, usage.String(), "alias of --nats-url")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"nats ok", config.DefaultNATS().Validate(), ""},
		{"no nats url", config.NATS{Replicas: 1}.Validate(), "--nats-url"},
		{"too many replicas", config.NATS{URL: "nats://x", Replicas: 7}.Validate(), "--replicas"},
		{"negative stream bytes", config.NATS{URL: "nats://x", Replicas: 1, StreamMaxBytes: -1}.Validate(), "--stream-max-bytes"},
		{"negative audit bytes", config.NATS{URL: "nats://x", Replicas: 1, AuditMaxBytes: -1}.Validate(), "--audit-max-bytes"},
		{"log ok", config.DefaultLog().Validate(), ""},
		{"bad log format", config.Log{Format: "xml"}.Validate(), "--log-format"},
		{"health off", config.Health{}.Validate(), ""},
		{"bad health address", config.Health{Addr: "localhost"}.Validate(), "--health-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == "" {
				require.NoError(t, tt.err)
				return
			}
			require.ErrorContains(t, tt.err, tt.wantErr)
		})
	}
}

func TestLogger(t *testing.T) {
	tests := []struct {
		format string
		want   []string
	}{
		{"json", []string{`"level":"DEBUG","msg":"verbose"`, `"level":"WARN","msg":"warning"`}},
		{"text", []string{`level=DEBUG msg=verbose`, `level=WARN msg=warning`}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log := config.Log{Level: slog.LevelDebug, Format: tt.format}.Logger(&buf)
			log.Log(t.Context(), slog.LevelDebug+3, "verbose") // what logr's V(1) becomes
			log.Warn("warning")
			for _, w := range tt.want {
				require.Contains(t, buf.String(), w)
			}
			buf.Reset()
			config.Log{Level: slog.LevelWarn, Format: tt.format}.Logger(&buf).Info("hidden")
			require.Empty(t, buf.String())
		})
	}
}

// TestLoggerTraceID: a record logged with a traced request's context
// carries its trace and span ids; one without a span carries none.
func TestLoggerTraceID(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log := config.Log{Level: slog.LevelInfo, Format: format}.Logger(&buf).With("workspace_id", "ws1")
			log.InfoContext(ctx, "traced")
			require.Contains(t, buf.String(), "4bf92f3577b34da6a3ce929d0e0e4736")
			require.Contains(t, buf.String(), "00f067aa0ba902b7")
			require.Contains(t, buf.String(), "ws1")
			buf.Reset()
			log.InfoContext(t.Context(), "plain")
			require.NotContains(t, buf.String(), "trace_id")
		})
	}
}
