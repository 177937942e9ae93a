package bus

import (
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/metrics"
)

// Collectors report the state of a service's NATS connection:
// aileron_nats_connected (1 while connected, 0 while disconnected or
// reconnecting) and aileron_nats_reconnects_total, read from nc at each
// scrape.
func Collectors(nc *nats.Conn) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "nats", Name: "connected",
			Help: "1 while the service is connected to NATS, 0 while it is disconnected or reconnecting."},
			func() float64 {
				if nc.IsConnected() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "nats", Name: "reconnects_total",
			Help: "Times the service reconnected to NATS since it started."},
			func() float64 { return float64(nc.Stats().Reconnects) }),
	}
}
