// Package metrics gives each service a Prometheus registry with the Go and
// process collectors and the handler that serves it. Library code registers
// its metrics on the registry it is handed, never on the global default one,
// so `aileron dev` can serve every service's metrics from one registry.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every Aileron metric.
const Namespace = "aileron"

// NewRegistry returns a registry holding the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text (or OpenMetrics) format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Register registers every collector on reg; a nil reg registers nothing
// (the collectors still count, unseen).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Mux serves /metrics from reg and everything else from h (a service's health
// endpoints), so one listener carries both.
func Mux(h http.Handler, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	mux.Handle("/", h)
	return mux
}

// DurationBuckets suits lifecycle durations: 100 ms to about 20 minutes.
var DurationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200}

// Sum adds, over the series of the family name whose labels include want,
// the counter and gauge values and the histogram sample counts: what a test
// or a benchmark reads off a registry.
func Sum(g prometheus.Gatherer, name string, want map[string]string) (float64, error) {
	fams, err := g.Gather()
	if err != nil {
		return 0, err
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == name {
			n += SumFamily(f, want)
		}
	}
	return n, nil
}

// SumFamily is Sum over one family already gathered or parsed from a
// metrics page (nil counts nothing).
func SumFamily(f *dto.MetricFamily, want map[string]string) float64 {
	var n float64
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			n += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return n
}
