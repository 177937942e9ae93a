package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderTracing: tracing.otlpEndpoint reaches every traced service as
// AILERON_OTLP_ENDPOINT, and tracing.sampleRatio as the OpenTelemetry SDK's
// sampler variables; by default no container gets them.
func TestRenderTracing(t *testing.T) {
	p := installs[0].prefix()
	off := render(t, installs[0])
	on := render(t, installs[0], "--set", "tracing.otlpEndpoint=http://otel-collector.observability:4318")
	sampled := render(t, installs[0], "--set", "tracing.otlpEndpoint=http://otel-collector.observability:4318", "--set-string", "tracing.sampleRatio=0.1")
	for _, name := range []string{"api", "firewall", "k8s-provisioner", "workspace-operator"} {
		_, c := container(t, off, p+name)
		_, ok := envValue(c, "AILERON_OTLP_ENDPOINT")
		assert.False(t, ok, "%s traces nothing by default", name)
		_, c = container(t, on, p+name)
		e, ok := envValue(c, "AILERON_OTLP_ENDPOINT")
		require.True(t, ok, name)
		assert.Equal(t, "http://otel-collector.observability:4318", e.Value, name)
		_, ok = envValue(c, "OTEL_TRACES_SAMPLER")
		assert.False(t, ok, "%s records every trace by default", name)
		_, c = container(t, sampled, p+name)
		e, ok = envValue(c, "OTEL_TRACES_SAMPLER")
		require.True(t, ok, name)
		assert.Equal(t, "parentbased_traceidratio", e.Value, name)
		e, ok = envValue(c, "OTEL_TRACES_SAMPLER_ARG")
		require.True(t, ok, name)
		assert.Equal(t, "0.1", e.Value, name)
	}
}
