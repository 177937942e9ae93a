package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/metrics"
)

// Metrics count REST requests by route pattern (never the raw path, whose
// ids would make the label unbounded) and status code.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics builds the REST metrics; register them with Register.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "http_requests_total", Help: "REST requests under /api/, by HTTP method, route pattern (\"unmatched\" for no route) and status code."},
			[]string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "http_request_duration_seconds", Help: "Duration of REST requests under /api/ until the handler returned (a watch: until it ended), by HTTP method and route pattern.",
			Buckets: prometheus.DefBuckets}, []string{"method", "route"}),
	}
}

// Register registers the metrics on reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	return metrics.Register(reg, m.requests, m.duration)
}

type routeKey struct{}

// middleware tells instrument which route grpc-gateway matched.
func (m *Metrics) middleware(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := runtime.HTTPPattern(r.Context()); ok {
			if route, ok := r.Context().Value(routeKey{}).(*string); ok {
				*route = p.String()
			}
		}
		next(w, r, params)
	}
}

// instrument counts every request that next serves.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := "unmatched"
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code; Flush and Unwrap keep streaming
// responses working through it.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	s.wrote = true
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
