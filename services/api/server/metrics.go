package server

import (
	"context"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"aileron.dev/pkg/metrics"
)

// rpcMetrics count gRPC calls (REST calls too: the gateway calls over gRPC)
// and the calls refused before or by the handler.
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  *prometheus.CounterVec
}

func newRPCMetrics() *rpcMetrics {
	return &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "grpc_requests_total", Help: "gRPC calls handled, by method and status code."}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "grpc_request_duration_seconds", Help: "Duration of unary gRPC calls, by method.",
			Buckets: prometheus.DefBuckets}, []string{"method"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "refused_calls_total", Help: "Calls refused, by method and reason (the error code: UNAUTHENTICATED, RATE_LIMITED, QUOTA_EXCEEDED, WORKSPACE_NOT_FOUND, ...)."},
			[]string{"method", "reason"}),
	}
}

func (m *rpcMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.duration, m.refused}
}

// done counts one call; the duration only for unary calls (a stream lasts
// as long as its client watches).
func (m *rpcMetrics) done(full string, err error, took time.Duration, unary bool) {
	method := path.Base(full)
	st := status.Convert(err)
	m.requests.WithLabelValues(method, st.Code().String()).Inc()
	if unary {
		m.duration.WithLabelValues(method).Observe(took.Seconds())
	}
	if reason, ok := refusal(st); ok {
		m.refused.WithLabelValues(method, reason).Inc()
	}
}

// refusal classifies an error as the audit does: a refusal unless it is
// the server's own failure (internal, unavailable, unknown); the reason is
// the stable error code of its ErrorInfo, else the gRPC code.
func refusal(st *status.Status) (string, bool) {
	switch st.Code() {
	case codes.OK, codes.Internal, codes.Unavailable, codes.Unknown, codes.Canceled, codes.DeadlineExceeded:
		return "", false
	}
	reason := st.Code().String()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() != "" {
			reason = info.GetReason()
		}
	}
	return reason, true
}

// unary is the outermost unary interceptor: it sees what every other one
// (auth and rate limit included) answered.
func (m *rpcMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	m.done(info.FullMethod, err, time.Since(start), true)
	return resp, err
}

func (m *rpcMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	m.done(info.FullMethod, err, time.Since(start), false)
	return err
}
