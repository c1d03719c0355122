package faults

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the fault-control plane.
type Metrics struct {
	active         *prometheus.GaugeVec
	injections     *prometheus.CounterVec
	revertFailures *prometheus.CounterVec
	reverts        *prometheus.CounterVec
}

// NewMetrics registers the fault metrics on reg (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "infralab_fault_active",
			Help: "1 while a fault of this type is active on this target, 0 after it ends.",
		}, []string{"type", "target"}),
		injections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infralab_fault_injections_total",
			Help: "Fault injections by type and result (ok, rejected, failed).",
		}, []string{"type", "result"}),
		revertFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infralab_fault_revert_failures_total",
			Help: "Failed attempts to revert a fault, by type.",
		}, []string{"type"}),
		reverts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infralab_fault_reverts_total",
			Help: "Faults ended, by type and reason (api, expired, reconciled, shutdown).",
		}, []string{"type", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.active, m.injections, m.revertFailures, m.reverts)
	}
	return m
}

// initTypes creates the per-type counters at 0 so the first event is visible to increase().
func (m *Metrics) initTypes(types []string) {
	for _, t := range types {
		for _, r := range []string{"ok", "rejected", "failed"} {
			m.injections.WithLabelValues(t, r)
		}
		m.revertFailures.WithLabelValues(t)
	}
}
