package egress

import (
	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/metrics"
	"aileron.dev/services/firewall/policy"
)

// Metrics count a proxy's decisions by group, decision and reason (never by
// domain: the set of names is unbounded), its open tunnels and their bytes.
type Metrics struct {
	decisions *prometheus.CounterVec
	tunnels   *prometheus.GaugeVec
	bytes     *prometheus.CounterVec
}

// NewMetrics builds the metrics; pass them with WithMetrics and register
// them with Register.
func NewMetrics() *Metrics {
	return &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "egress",
			Name: "decisions_total", Help: "Egress requests decided, by group (workspace, browser), decision (allow, deny, error) and reason (allowed, domain-not-allowed, non-public-address, sni-mismatch, ...)."},
			[]string{"group", "decision", "reason"}),
		tunnels: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "egress",
			Name: "tunnels_open", Help: "CONNECT tunnels open, by group."}, []string{"group"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "egress",
			Name: "tunnel_bytes_total", Help: "Bytes carried by CONNECT tunnels, by group and direction (upstream: client to destination; downstream: back)."},
			[]string{"group", "direction"}),
	}
}

// Register registers the metrics on reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	return metrics.Register(reg, m.decisions, m.tunnels, m.bytes)
}

// WithMetrics counts the proxy's decisions and tunnels in m.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

func (m *Metrics) decided(g policy.Group, decision, reason string) {
	if m != nil {
		m.decisions.WithLabelValues(string(g), decision, reason).Inc()
	}
}

// tunnel counts an open tunnel of g and returns its byte counters and the
// function that counts it closed.
func (m *Metrics) tunnel(g policy.Group) (up, down func(int), done func()) {
	if m == nil {
		nop := func(int) {}
		return nop, nop, func() {}
	}
	m.tunnels.WithLabelValues(string(g)).Inc()
	u, d := m.bytes.WithLabelValues(string(g), "upstream"), m.bytes.WithLabelValues(string(g), "downstream")
	return func(n int) { u.Add(float64(n)) }, func(n int) { d.Add(float64(n)) },
		func() { m.tunnels.WithLabelValues(string(g)).Dec() }
}
