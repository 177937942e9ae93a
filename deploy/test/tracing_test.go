package test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderTracing: tracing.otlpEndpoint reaches every traced service as
// AILERON_OTLP_ENDPOINT; by default no container gets the variable.
func TestRenderTracing(t *testing.T) {
	p := installs[0].prefix()
	off := render(t, installs[0])
	on := render(t, installs[0], "--set", "tracing.otlpEndpoint=http://otel-collector.observability:4318")
	for _, name := range []string{"api", "firewall", "k8s-provisioner", "workspace-operator"} {
		_, c := container(t, off, p+name)
		_, ok := envValue(c, "AILERON_OTLP_ENDPOINT")
		assert.False(t, ok, "%s traces nothing by default", name)
		_, c = container(t, on, p+name)
		e, ok := envValue(c, "AILERON_OTLP_ENDPOINT")
		require.True(t, ok, name)
		assert.Equal(t, "http://otel-collector.observability:4318", e.Value, name)
	}
}
