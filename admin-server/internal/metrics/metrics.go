// Package metrics owns the Prometheus registry of the process: runtime collectors,
// RED metrics of the app port, and the admin-specific counters.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/config"
)

// Metrics is created once per process; a private registry (not the global default)
// keeps tests independent and the exposition free of anything unregistered.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
}

// New registers the Go and process collectors, build_info and the service's own metrics.
func New(service string, build config.Build) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served on the app port, by status code, method and route pattern.",
		}, []string{"code", "method", "route"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Latency of HTTP requests on the app port, by status code, method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code", "method", "route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_auth_failures_total",
			Help: "Admin API requests rejected by the bearer-token check, by reason.",
		}, []string{"reason"}),
	}
	// Every reason starts at 0 so increase() and alerts see the first failure.
	for _, r := range auth.Reasons {
		m.authFailures.WithLabelValues(string(r))
	}
	// A constant 1 whose labels say which build runs; the client library escapes the
	// free-text values in the exposition. No other metric here carries `service` (the
	// scrape config's target label adds it), so this is its only `service` label.
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "build_info",
		Help:        "The running build: 1, labelled with the service, APP_VERSION and APP_COMMIT.",
		ConstLabels: prometheus.Labels{"service": service, "version": build.Version, "commit": build.Commit},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.requests, m.duration, m.authFailures,
	)
	return m
}

// Registry exposes the registry for later collectors and for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the exposition; promhttp's own scrape counters are included so a
// failing scrape is itself visible.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.registry,
		promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry}))
}

// InstrumentHTTP counts and times every request through next. route maps a request to
// a bounded label (the matched route pattern); it is asked after next has run.
func (m *Metrics) InstrumentHTTP(route func(*http.Request) string, next http.Handler) http.Handler {
	label := promhttp.WithLabelFromRequest("route", route)
	return promhttp.InstrumentHandlerDuration(m.duration,
		promhttp.InstrumentHandlerCounter(m.requests, next, label), label)
}

// AuthFailed implements auth.FailureRecorder.
func (m *Metrics) AuthFailed(reason auth.Reason) {
	m.authFailures.WithLabelValues(string(reason)).Inc()
}
