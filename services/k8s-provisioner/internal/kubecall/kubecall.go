// Package kubecall counts and times the calls a controller-runtime client
// sends to the kube-apiserver. Reads of a manager's client come from its
// cache, so only writes are measured: they are the calls that reach the
// server.
package kubecall

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
)

// Metrics are the apiserver call metrics of one service.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics builds the metrics aileron_<subsystem>_apiserver_calls_total
// and aileron_<subsystem>_apiserver_call_duration_seconds.
func NewMetrics(subsystem string) *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: subsystem,
			Name: "apiserver_calls_total",
			Help: "Writes sent to the kube-apiserver, by call (Create, Update, Patch, Delete, Apply, StatusUpdate, StatusPatch), kind and result (ok, conflict, not_found, error)."},
			[]string{"call", "kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: subsystem,
			Name: "apiserver_call_duration_seconds", Help: "Latency of writes to the kube-apiserver, by call.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"call"}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.duration}
}

// Result names the outcome of a call as the result label does.
func Result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return "conflict"
	case apierrors.IsNotFound(err):
		return "not_found"
	}
	return "error"
}

// observe counts and times one call and, within a traced request (the k8s
// provisioner's consume of an event), records it as a span too:
// "kube Create Workspace".
func (m *Metrics) observe(ctx context.Context, call, kind string, start time.Time, err error) {
	end := time.Now()
	m.calls.WithLabelValues(call, kind, Result(err)).Inc()
	m.duration.WithLabelValues(call).Observe(end.Sub(start).Seconds())
	if trace.SpanFromContext(ctx).IsRecording() {
		_, span := telemetry.Tracer().Start(ctx, "kube "+call+" "+kind, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End(trace.WithTimestamp(end))
	}
}

// Wrap returns c with its writes (and its status writes) counted and timed
// in m.
func Wrap(c client.Client, m *Metrics) client.Client { return &timed{Client: c, m: m} }

type timed struct {
	client.Client
	m *Metrics
}

// kind is the object's kind, "" when the scheme does not know it.
func (t *timed) kind(obj runtime.Object) string {
	gvk, err := t.GroupVersionKindFor(obj)
	if err != nil {
		return obj.GetObjectKind().GroupVersionKind().Kind
	}
	return gvk.Kind
}

func (t *timed) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	start := time.Now()
	err := t.Client.Create(ctx, obj, opts...)
	t.m.observe(ctx, "Create", t.kind(obj), start, err)
	return err
}

func (t *timed) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	start := time.Now()
	err := t.Client.Update(ctx, obj, opts...)
	t.m.observe(ctx, "Update", t.kind(obj), start, err)
	return err
}

func (t *timed) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	start := time.Now()
	err := t.Client.Patch(ctx, obj, patch, opts...)
	t.m.observe(ctx, "Patch", t.kind(obj), start, err)
	return err
}

func (t *timed) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	start := time.Now()
	err := t.Client.Delete(ctx, obj, opts...)
	t.m.observe(ctx, "Delete", t.kind(obj), start, err)
	return err
}

func (t *timed) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	start := time.Now()
	err := t.Client.Apply(ctx, obj, opts...)
	t.m.observe(ctx, "Apply", applyKind(obj), start, err)
	return err
}

// applyKind is the kind an apply configuration names: typed ones return a
// pointer, the unstructured one a string.
func applyKind(obj runtime.ApplyConfiguration) string {
	switch k := obj.(type) {
	case interface{ GetKind() *string }:
		if k.GetKind() != nil {
			return *k.GetKind()
		}
	case interface{ GetKind() string }:
		return k.GetKind()
	}
	return ""
}

func (t *timed) Status() client.SubResourceWriter {
	return &timedStatus{SubResourceWriter: t.Client.Status(), t: t}
}

type timedStatus struct {
	client.SubResourceWriter
	t *timed
}

func (s *timedStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	start := time.Now()
	err := s.SubResourceWriter.Update(ctx, obj, opts...)
	s.t.m.observe(ctx, "StatusUpdate", s.t.kind(obj), start, err)
	return err
}

func (s *timedStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	start := time.Now()
	err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	s.t.m.observe(ctx, "StatusPatch", s.t.kind(obj), start, err)
	return err
}
