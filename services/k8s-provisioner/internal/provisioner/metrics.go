package provisioner

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/metrics"
	"aileron.dev/services/k8s-provisioner/internal/kubecall"
)

// Subsystem prefixes the provisioner's metrics (aileron_k8s_provisioner_*).
const Subsystem = "k8s_provisioner"

// provMetrics are the k8s-provisioner's metrics.
type provMetrics struct {
	reconciles    *prometheus.CounterVec
	reconcileTime *prometheus.HistogramVec
	orphans       *prometheus.CounterVec
	calls         *kubecall.Metrics
}

func newProvMetrics() *provMetrics {
	return &provMetrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: Subsystem,
			Name: "reconciles_total", Help: "Passes converging one workspace's Workspace resource (an event or the resync), by result (ok or error; an error is retried with backoff)."},
			[]string{"result"}),
		reconcileTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: Subsystem,
			Name: "reconcile_duration_seconds", Help: "Duration of those passes, by result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"result"}),
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: Subsystem,
			Name: "orphans_removed_total", Help: "Objects the orphan sweep removed, by kind (Workspace: a resource no record owns)."},
			[]string{"kind"}),
		calls: kubecall.NewMetrics(Subsystem),
	}
}

func (m *provMetrics) reconciled(err error, took time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reconciles.WithLabelValues(result).Inc()
	m.reconcileTime.WithLabelValues(result).Observe(took.Seconds())
}

// RegisterMetrics registers the provisioner's metrics on reg, with the
// backlog of its event consumer, read from JetStream at each scrape.
func (p *Provisioner) RegisterMetrics(reg prometheus.Registerer) error {
	m := p.metrics
	cs := append([]prometheus.Collector{m.reconciles, m.reconcileTime, m.orphans, &backlog{js: p.js}}, m.calls.Collectors()...)
	return metrics.Register(reg, cs...)
}

// backlogTimeout bounds the JetStream call of one scrape.
const backlogTimeout = 2 * time.Second

var backlogDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, Subsystem, "queue_depth"),
	"Workspace events waiting in the provisioner's durable consumer: not delivered yet plus delivered and not acknowledged. Missing from a scrape that could not ask JetStream.", nil, nil)

// backlog reports the durable consumer's backlog: every replica shares the
// consumer, so every replica reports the same number.
type backlog struct{ js jetstream.JetStream }

func (b *backlog) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc }

func (b *backlog) Collect(ch chan<- prometheus.Metric) {
	// A scrape has no context of its own; the timeout keeps a NATS outage
	// from holding it.
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	cons, err := b.js.Consumer(ctx, bus.StreamName, Consumer)
	if err != nil {
		return // no consumer yet, or NATS is away: aileron_nats_connected says which
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(info.NumPending)+float64(info.NumAckPending))
}
