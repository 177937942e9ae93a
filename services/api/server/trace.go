package server

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"aileron.dev/pkg/telemetry"
)

// The gRPC side of tracing, by hand rather than with otelgrpc: one server
// span per call named by its full method, continuing the trace the caller's
// metadata carries, and a client side (the REST gateway's) that only
// injects the trace context, adding no span of its own under the REST one.
// Installed only when telemetry is enabled.

// metadataCarrier adapts gRPC metadata to the propagator's carrier.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// startRPCSpan starts the server span of method under the caller's trace,
// named service/method (aileron.workspace.v1.WorkspaceService/CreateWorkspace).
func startRPCSpan(ctx context.Context, method string) (context.Context, trace.Span) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = telemetry.Propagator.Extract(ctx, metadataCarrier(md))
	}
	return telemetry.Tracer().Start(ctx, strings.TrimPrefix(method, "/"), trace.WithSpanKind(trace.SpanKindServer))
}

// endRPCSpan records the call's status code and ends span; a server-side
// failure (not a refusal such as NotFound or InvalidArgument) marks it failed.
func endRPCSpan(span trace.Span, err error) {
	code := status.Code(err)
	span.SetAttributes(attribute.String("rpc.grpc.status_code", code.String()))
	switch code {
	case codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss, codes.DeadlineExceeded, codes.Unimplemented:
		span.SetStatus(otelcodes.Error, status.Convert(err).Message())
	}
	span.End()
}

func traceUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, span := startRPCSpan(ctx, info.FullMethod)
	resp, err := h(ctx, req)
	endRPCSpan(span, err)
	return resp, err
}

func traceStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, span := startRPCSpan(ss.Context(), info.FullMethod)
	err := h(srv, &tracedStream{ServerStream: ss, ctx: ctx})
	endRPCSpan(span, err)
	return err
}

// tracedStream is a server stream whose context carries the call's span.
type tracedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tracedStream) Context() context.Context { return s.ctx }

// injectTrace returns ctx with the trace context of its span in the
// outgoing metadata.
func injectTrace(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	md, ok := metadata.FromOutgoingContext(ctx)
	if ok {
		md = md.Copy()
	} else {
		md = metadata.MD{}
	}
	telemetry.Propagator.Inject(ctx, metadataCarrier(md))
	return metadata.NewOutgoingContext(ctx, md)
}

func injectUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(injectTrace(ctx), method, req, reply, cc, opts...)
}

func injectStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(injectTrace(ctx), desc, cc, method, opts...)
}
