package provisioner

import (
	"context"
	"io"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
)

// provMetrics are the docker provisioner's metrics.
type provMetrics struct {
	reconciles      *prometheus.CounterVec
	reconcileTime   *prometheus.HistogramVec
	engineCalls     *prometheus.CounterVec
	engineTime      *prometheus.HistogramVec
	orphans         *prometheus.CounterVec
	restarts        *prometheus.CounterVec
	crashLoops      *prometheus.CounterVec
	policiesWritten prometheus.Counter
}

func newProvMetrics() *provMetrics {
	const sub = "docker_provisioner"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: name, Help: help}, labels)
	}
	return &provMetrics{
		reconciles:    counter("reconciles_total", "Reconcile passes, by result (ok or error; an error is retried with backoff).", "result"),
		reconcileTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: "reconcile_duration_seconds", Help: "Duration of reconcile passes, by result.", Buckets: metrics.DurationBuckets}, []string{"result"}),
		engineCalls:   counter("engine_calls_total", "Docker Engine API calls, by call and result (ok or error).", "call", "result"),
		engineTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: "engine_call_duration_seconds", Help: "Latency of Docker Engine API calls, by call (the event stream is not timed).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"call"}),
		orphans:    counter("orphans_removed_total", "Objects the orphan sweep removed, by kind (container, network, volume).", "kind"),
		restarts:   counter("container_restarts_total", "Service containers of running workspaces found exited and started again (repairs), by service.", "service"),
		crashLoops: counter("crash_loops_total", "Workspaces failed because a service exited too often (CONTAINER_CRASH_LOOP), by service.", "service"),
		policiesWritten: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: "firewall_policy_writes_total",
			Help: "Firewall policy files written into egress gateways (each a changed policy applied)."}),
	}
}

// RegisterMetrics registers the provisioner's metrics on reg. Call it before
// Run.
func (p *Provisioner) RegisterMetrics(reg prometheus.Registerer) error {
	m := p.metrics
	err := metrics.Register(reg, m.reconciles, m.reconcileTime, m.engineCalls, m.engineTime, m.orphans, m.restarts, m.crashLoops, m.policiesWritten,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "docker_provisioner", Name: "queue_depth",
			Help: "Workspaces waiting for a reconcile worker."}, func() float64 { return float64(p.queue.Len()) }))
	return err
}

func (m *provMetrics) reconciled(err error, took time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reconciles.WithLabelValues(result).Inc()
	m.reconcileTime.WithLabelValues(result).Observe(took.Seconds())
}

// timedDocker counts and times every call through the Docker interface: the
// one place the provisioner's engine calls go through. Within a traced
// reconcile each call is a span too ("docker ContainerCreate").
type timedDocker struct {
	d Docker
	m *provMetrics
}

func (t *timedDocker) done(ctx context.Context, call string, start time.Time, err error) {
	end := time.Now()
	result := "ok"
	if err != nil {
		result = "error"
	}
	t.m.engineCalls.WithLabelValues(call, result).Inc()
	t.m.engineTime.WithLabelValues(call).Observe(end.Sub(start).Seconds())
	if trace.SpanFromContext(ctx).IsRecording() {
		_, span := telemetry.Tracer().Start(ctx, "docker "+call, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End(trace.WithTimestamp(end))
	}
}

func (t *timedDocker) ServerVersion(ctx context.Context) (types.Version, error) {
	start := time.Now()
	v, err := t.d.ServerVersion(ctx)
	t.done(ctx, "ServerVersion", start, err)
	return v, err
}

func (t *timedDocker) Events(ctx context.Context, o events.ListOptions) (<-chan events.Message, <-chan error) {
	return t.d.Events(ctx, o)
}

func (t *timedDocker) ContainerCreate(ctx context.Context, c *container.Config, h *container.HostConfig, n *network.NetworkingConfig, pl *ocispec.Platform, name string) (container.CreateResponse, error) {
	start := time.Now()
	r, err := t.d.ContainerCreate(ctx, c, h, n, pl, name)
	t.done(ctx, "ContainerCreate", start, err)
	return r, err
}

func (t *timedDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	start := time.Now()
	r, err := t.d.ContainerInspect(ctx, id)
	t.done(ctx, "ContainerInspect", start, err)
	return r, err
}

func (t *timedDocker) ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error) {
	start := time.Now()
	r, err := t.d.ContainerList(ctx, o)
	t.done(ctx, "ContainerList", start, err)
	return r, err
}

func (t *timedDocker) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	start := time.Now()
	err := t.d.ContainerRemove(ctx, id, o)
	t.done(ctx, "ContainerRemove", start, err)
	return err
}

func (t *timedDocker) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	start := time.Now()
	err := t.d.ContainerStart(ctx, id, o)
	t.done(ctx, "ContainerStart", start, err)
	return err
}

func (t *timedDocker) ContainerStop(ctx context.Context, id string, o container.StopOptions) error {
	start := time.Now()
	err := t.d.ContainerStop(ctx, id, o)
	t.done(ctx, "ContainerStop", start, err)
	return err
}

func (t *timedDocker) CopyToContainer(ctx context.Context, id, dst string, content io.Reader, o container.CopyToContainerOptions) error {
	start := time.Now()
	err := t.d.CopyToContainer(ctx, id, dst, content, o)
	t.done(ctx, "CopyToContainer", start, err)
	return err
}

func (t *timedDocker) CopyFromContainer(ctx context.Context, id, src string) (io.ReadCloser, container.PathStat, error) {
	start := time.Now()
	r, st, err := t.d.CopyFromContainer(ctx, id, src)
	t.done(ctx, "CopyFromContainer", start, err)
	return r, st, err
}

func (t *timedDocker) NetworkConnect(ctx context.Context, netID, cID string, c *network.EndpointSettings) error {
	start := time.Now()
	err := t.d.NetworkConnect(ctx, netID, cID, c)
	t.done(ctx, "NetworkConnect", start, err)
	return err
}

func (t *timedDocker) NetworkCreate(ctx context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	start := time.Now()
	r, err := t.d.NetworkCreate(ctx, name, o)
	t.done(ctx, "NetworkCreate", start, err)
	return r, err
}

func (t *timedDocker) NetworkInspect(ctx context.Context, id string, o network.InspectOptions) (network.Inspect, error) {
	start := time.Now()
	r, err := t.d.NetworkInspect(ctx, id, o)
	t.done(ctx, "NetworkInspect", start, err)
	return r, err
}

func (t *timedDocker) NetworkList(ctx context.Context, o network.ListOptions) ([]network.Summary, error) {
	start := time.Now()
	r, err := t.d.NetworkList(ctx, o)
	t.done(ctx, "NetworkList", start, err)
	return r, err
}

func (t *timedDocker) NetworkRemove(ctx context.Context, id string) error {
	start := time.Now()
	err := t.d.NetworkRemove(ctx, id)
	t.done(ctx, "NetworkRemove", start, err)
	return err
}

func (t *timedDocker) VolumeCreate(ctx context.Context, o volume.CreateOptions) (volume.Volume, error) {
	start := time.Now()
	r, err := t.d.VolumeCreate(ctx, o)
	t.done(ctx, "VolumeCreate", start, err)
	return r, err
}

func (t *timedDocker) VolumeList(ctx context.Context, o volume.ListOptions) (volume.ListResponse, error) {
	start := time.Now()
	r, err := t.d.VolumeList(ctx, o)
	t.done(ctx, "VolumeList", start, err)
	return r, err
}

func (t *timedDocker) VolumeRemove(ctx context.Context, id string, force bool) error {
	start := time.Now()
	err := t.d.VolumeRemove(ctx, id, force)
	t.done(ctx, "VolumeRemove", start, err)
	return err
}

func (t *timedDocker) ImageInspect(ctx context.Context, id string, o ...client.ImageInspectOption) (image.InspectResponse, error) {
	start := time.Now()
	r, err := t.d.ImageInspect(ctx, id, o...)
	t.done(ctx, "ImageInspect", start, err)
	return r, err
}

func (t *timedDocker) ImagePull(ctx context.Context, ref string, o image.PullOptions) (io.ReadCloser, error) {
	start := time.Now()
	r, err := t.d.ImagePull(ctx, ref, o)
	t.done(ctx, "ImagePull", start, err)
	return r, err
}
