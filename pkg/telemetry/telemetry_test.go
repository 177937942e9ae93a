package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"aileron.dev/pkg/config"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/telemetry/telemetrytest"
)

// TestNoEndpointIsNoop checks that without an endpoint nothing is installed:
// the global provider stays the no-op one and spans are not recorded.
func TestNoEndpointIsNoop(t *testing.T) {
	var c telemetry.Config
	fs := config.NewSet("test", config.Prefix)
	c.Register(fs)
	require.NoError(t, fs.ParseEnv(nil, func(string) string { return "" }))
	require.Empty(t, c.Endpoint)

	stop, err := telemetry.Setup(t.Context(), c, "test")
	require.NoError(t, err)
	stop()
	require.False(t, telemetry.Enabled())
	_, span := telemetry.Tracer().Start(t.Context(), "x")
	defer span.End()
	require.False(t, span.IsRecording())
	require.False(t, span.SpanContext().IsValid())
}

// TestEndpointFromEnv checks both variables set the flag.
func TestEndpointFromEnv(t *testing.T) {
	for _, name := range []string{"AILERON_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		t.Run(name, func(t *testing.T) {
			var c telemetry.Config
			fs := config.NewSet("test", config.Prefix)
			c.Register(fs)
			env := map[string]string{name: "http://collector:4318"}
			require.NoError(t, fs.ParseEnv(nil, func(k string) string { return env[k] }))
			require.Equal(t, "http://collector:4318", c.Endpoint)
		})
	}
}

// TestHeaderRoundTrip injects a span's context into NATS headers and
// extracts the same context on the other side.
func TestHeaderRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(t.Context(), "publish")
	defer span.End()

	h := nats.Header{}
	h.Set("Content-Type", "application/protobuf")
	telemetry.Inject(ctx, h)
	require.NotEmpty(t, h.Get("traceparent"))

	got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), h))
	require.True(t, got.IsRemote())
	require.Equal(t, span.SpanContext().TraceID(), got.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), got.SpanID())
	require.Equal(t, span.SpanContext().TraceFlags(), got.TraceFlags())

	require.False(t, trace.SpanContextFromContext(telemetry.Extract(context.Background(), nats.Header{})).IsValid())
	empty := nats.Header{}
	telemetry.Inject(context.Background(), empty)
	require.Empty(t, empty, "no span, no header")
}

// TestFormatTree renders parents before their children, indented.
func TestFormatTree(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("test")
	ctx, root := tr.Start(t.Context(), "POST /api/v1/workspaces")
	pctx, pub := tr.Start(ctx, "publish aileron.workspace.docker.created", trace.WithAttributes(telemetry.WorkspaceID("ws-1")))
	_, rc := tr.Start(pctx, telemetry.ReconcileSpan)
	rc.End()
	pub.End()
	root.End()

	out := telemetry.FormatTree(rec.Ended())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Equal(t, "trace "+root.SpanContext().TraceID().String(), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "  POST /api/v1/workspaces  "), out)
	require.True(t, strings.HasPrefix(lines[2], "    publish aileron.workspace.docker.created  "), out)
	require.Contains(t, lines[2], "workspace_id=ws-1")
	require.True(t, strings.HasPrefix(lines[3], "      reconcile  "), out)
}

// TestTreeWritesRequestsThatReachedAProvisioner checks the tree keeps a
// request's trace with a reconcile in it and drops a read's.
func TestTreeWritesRequestsThatReachedAProvisioner(t *testing.T) {
	var out strings.Builder
	tree := telemetry.NewTree(&out)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tree))
	tr := tp.Tracer("test")

	ctx, create := tr.Start(t.Context(), "POST /api/v1/workspaces")
	_, rc := tr.Start(ctx, telemetry.ReconcileSpan)
	rc.End()
	create.End()
	_, get := tr.Start(t.Context(), "GET /api/v1/workspaces/{id}")
	get.End()
	_, bg := tr.Start(t.Context(), telemetry.ReconcileSpan)
	bg.End()
	// A request whose caller sent a traceparent of its own.
	h := nats.Header{}
	_, caller := tr.Start(t.Context(), "caller")
	telemetry.Inject(trace.ContextWithSpan(t.Context(), caller), h)
	rctx, remote := tr.Start(telemetry.Extract(t.Context(), h), "POST /api/v1/workspaces/{id=*}/start")
	_, rc2 := tr.Start(rctx, telemetry.ReconcileSpan)
	rc2.End()
	remote.End()

	require.NoError(t, tp.Shutdown(t.Context()))
	require.Contains(t, out.String(), "trace "+create.SpanContext().TraceID().String())
	require.Contains(t, out.String(), "    reconcile  ")
	require.NotContains(t, out.String(), "GET")
	require.Contains(t, out.String(), "trace "+remote.SpanContext().TraceID().String())
	require.Equal(t, 2, strings.Count(out.String(), "reconcile"), out.String())
}

// TestSetupExportsByOTLP points Setup at a real HTTP server standing in for
// a collector: the span arrives as an OTLP/HTTP protobuf POST to
// <endpoint>/v1/traces once stop flushes, and tracing is off after.
func TestSetupExportsByOTLP(t *testing.T) {
	type post struct{ path, contentType string }
	posts := make(chan post, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posts <- post{r.URL.Path, r.Header.Get("Content-Type")}
	}))
	defer srv.Close()

	stop, err := telemetry.Setup(t.Context(), telemetry.Config{Endpoint: srv.URL}, "test")
	require.NoError(t, err)
	require.True(t, telemetry.Enabled())
	_, span := telemetry.Tracer().Start(t.Context(), "exported")
	require.True(t, span.IsRecording())
	span.End()
	stop()
	require.False(t, telemetry.Enabled())
	select {
	case p := <-posts:
		require.Equal(t, post{"/v1/traces", "application/x-protobuf"}, p)
	default:
		t.Fatal("stop returned before the span was exported")
	}
}

// TestSetupRefusesMalformedEndpoint names the flag.
func TestSetupRefusesMalformedEndpoint(t *testing.T) {
	_, err := telemetry.Setup(t.Context(), telemetry.Config{Endpoint: "ftp://collector:4318"}, "test")
	require.ErrorContains(t, err, "otlp-endpoint")
	require.False(t, telemetry.Enabled())
}

// TestTraceparentRoundTrip writes a recording span's context as a W3C
// traceparent and reads the same context back; no span, no value.
func TestTraceparentRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(t.Context(), "apply")
	defer span.End()

	v := telemetry.Traceparent(ctx)
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, v)
	got := telemetry.ParseTraceparent(v)
	require.True(t, got.IsRemote())
	require.Equal(t, span.SpanContext().TraceID(), got.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), got.SpanID())

	require.Empty(t, telemetry.Traceparent(t.Context()))
	_, noop := noop.NewTracerProvider().Tracer("test").Start(t.Context(), "x")
	require.Empty(t, telemetry.Traceparent(trace.ContextWithSpan(t.Context(), noop)), "a span that does not record")
	require.False(t, telemetry.ParseTraceparent("").IsValid())
	require.False(t, telemetry.ParseTraceparent("not a traceparent").IsValid())
}

// TestResume starts a child of the remote context while following, and
// a root of a new trace linked to it after.
func TestResume(t *testing.T) {
	rec := telemetrytest.Record(t)
	ctx, origin := telemetry.Tracer().Start(t.Context(), "consume")
	from := telemetry.ParseTraceparent(telemetry.Traceparent(ctx))
	origin.End()

	_, child := telemetry.Resume(t.Context(), "reconcile", from, true)
	child.End()
	_, later := telemetry.Resume(t.Context(), "reconcile", from, false)
	later.End()
	_, plain := telemetry.Resume(t.Context(), "reconcile", trace.SpanContext{}, true)
	plain.End()

	spans := rec.Ended()
	require.Len(t, spans, 4)
	c, l, p := spans[1], spans[2], spans[3]
	require.Equal(t, from.TraceID(), c.SpanContext().TraceID())
	require.Equal(t, from.SpanID(), c.Parent().SpanID())
	require.Empty(t, c.Links())

	require.NotEqual(t, from.TraceID(), l.SpanContext().TraceID())
	require.False(t, l.Parent().IsValid())
	require.Len(t, l.Links(), 1)
	require.Equal(t, from.SpanID(), l.Links()[0].SpanContext.SpanID())

	require.False(t, p.Parent().IsValid())
	require.Empty(t, p.Links())
}
