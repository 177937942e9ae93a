package firewall

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/metrics"
)

// Results of one policy reconcile.
const (
	resultStored    = "stored"    // a new or changed policy stored and announced
	resultUnchanged = "unchanged" // the stored policy was already current
	resultPurged    = "purged"    // the workspace is gone; its policy removed
	resultInvalid   = "invalid"   // the settings do not make a policy; reported as error
	resultError     = "error"     // a store or bus failure, retried
)

type serviceMetrics struct {
	reconciles *prometheus.CounterVec
	duration   prometheus.Histogram
}

func newServiceMetrics() *serviceMetrics {
	return &serviceMetrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "firewall",
			Name: "policy_reconciles_total", Help: "Effective-policy computations, by result (stored, unchanged, purged, invalid, error)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "firewall",
			Name: "policy_reconcile_duration_seconds", Help: "Duration of one effective-policy computation, store and announcement.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
	}
}

func (m *serviceMetrics) done(result string, err error, took time.Duration) {
	if err != nil {
		result = resultError
	}
	m.reconciles.WithLabelValues(result).Inc()
	m.duration.Observe(took.Seconds())
}

// RegisterMetrics registers the service's metrics on reg.
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	return metrics.Register(reg, s.metrics.reconciles, s.metrics.duration)
}
