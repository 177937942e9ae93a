// Package telemetry is the one place Aileron services set up OpenTelemetry
// tracing: the tracer provider from configuration (OTLP export when an
// endpoint is set, nothing when not), the W3C trace context carried in NATS
// message headers, and the span helpers the services share. Without an
// endpoint the global provider stays OpenTelemetry's no-op one and the
// services install no instrumentation at all.
package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"aileron.dev/pkg/config"
)

// ScopeName names the tracer of every Aileron span.
const ScopeName = "aileron.dev"

// Propagator carries trace context between services: W3C traceparent and
// tracestate, in HTTP headers, gRPC metadata and NATS message headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

var enabled atomic.Bool

// Config is the tracing configuration of a service.
type Config struct {
	// Endpoint is the OTLP/HTTP collector traces are exported to
	// (http://collector:4318, or host:port for plain HTTP); empty: no tracing.
	Endpoint string
}

// Register adds --otlp-endpoint to fs, set also by AILERON_OTLP_ENDPOINT or
// the standard OTEL_EXPORTER_OTLP_ENDPOINT.
func (c *Config) Register(fs *config.Set) {
	fs.StringVar(&c.Endpoint, "otlp-endpoint", c.Endpoint, "OTLP/HTTP endpoint traces are exported to (http://collector:4318); empty: no tracing")
	fs.SetEnv("otlp-endpoint", "AILERON_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
}

// Setup installs the tracer provider cfg describes as the global one, with
// the extra span processors (aileron dev's span tree), and returns its stop,
// which flushes the spans still buffered (for at most five seconds) and
// turns tracing off. Without an endpoint or processors it installs nothing
// and stop does nothing.
func Setup(ctx context.Context, cfg Config, service string, extra ...sdktrace.SpanProcessor) (stop func(), err error) {
	if cfg.Endpoint == "" && len(extra) == 0 {
		return func() {}, nil
	}
	var opts []sdktrace.TracerProviderOption
	if cfg.Endpoint != "" {
		u, err := tracesURL(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
		if err != nil {
			return nil, fmt.Errorf("otlp-endpoint %q: %w", cfg.Endpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	for _, p := range extra {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	tp := NewProvider(service, opts...)
	Install(tp)
	return func() {
		Uninstall()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}, nil
}

// tracesURL is the URL spans are posted to: endpoint is the collector's
// base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is, so /v1/traces is appended
// (unless it is there already); host:port means plain HTTP.
func tracesURL(endpoint string) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("otlp-endpoint %q: want http(s)://host:port", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// NewProvider returns an SDK tracer provider naming service in its resource,
// sampling every trace whose parent does not say otherwise.
func NewProvider(service string, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(attribute.String("service.name", service))
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res)}, opts...)...)
}

// Install makes tp the global tracer provider, Propagator the global
// propagator, and turns the services' instrumentation on (what Setup does
// with an exporter; tests and `aileron dev --trace` pass their own).
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	enabled.Store(true)
}

// Enabled reports whether a tracer provider was installed: services add
// their HTTP and gRPC instrumentation only then, so tracing costs nothing
// when it is off.
func Enabled() bool { return enabled.Load() }

// Tracer returns the tracer of Aileron spans from the current global
// provider (looked up at each call, so a provider installed later counts).
func Tracer() trace.Tracer { return otel.GetTracerProvider().Tracer(ScopeName) }

// WorkspaceID is the attribute naming a span's workspace.
func WorkspaceID(id string) attribute.KeyValue { return attribute.String("workspace_id", id) }

// End records err on span, if any, and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Uninstall turns tracing off again, with a no-op global provider (what
// Setup's stop does; tests that installed their own call it too).
func Uninstall() {
	enabled.Store(false)
	otel.SetTracerProvider(noop.NewTracerProvider())
}
