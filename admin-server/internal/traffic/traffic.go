// Package traffic sends a steady, bounded synthetic load toward nginx with vegeta's
// attack library, so dashboards and alerts have something to measure while faults run.
package traffic

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Bounds of the generator.
const (
	MaxRate        = 50 // requests per second
	MaxPaths       = 16
	RequestTimeout = 5 * time.Second
	maxWorkers     = 16 // concurrent requests in flight, at most
)

// Settings is a change request (PUT /admin/api/traffic); nil fields stay as they are.
type Settings struct {
	Enabled *bool    `json:"enabled"`
	Rate    *int     `json:"rate_per_second"`
	Paths   []string `json:"paths"`
}

// Status is the generator's current configuration and counters.
type Status struct {
	Enabled       bool     `json:"enabled"`
	Running       bool     `json:"running"`
	RatePerSecond int      `json:"rate_per_second"`
	MaxRate       int      `json:"max_rate_per_second"`
	TargetURL     string   `json:"target_url"`
	Paths         []string `json:"paths"`
	Sent          uint64   `json:"sent"`
	Failed        uint64   `json:"failed"`
}

// Generator runs at most one attack at a time.
type Generator struct {
	logger  *slog.Logger
	target  string
	client  *http.Client // nil: vegeta's own
	results *prometheus.CounterVec
	latency prometheus.Histogram
	rateG   prometheus.Gauge

	mu       sync.Mutex
	enabled  bool
	rate     int
	paths    []string
	attacker *vegeta.Attacker
	done     chan struct{}
	sent     atomic.Uint64
	failed   atomic.Uint64
}

// New builds a stopped generator; call Apply or Start to run it.
func New(logger *slog.Logger, reg prometheus.Registerer, target string, enabled bool, rate int, paths []string) (*Generator, error) {
	g := &Generator{
		logger: logger, target: strings.TrimRight(target, "/"),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infralab_traffic_requests_total",
			Help: "Synthetic requests sent toward nginx, by status code (\"error\" when none came back).",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "infralab_traffic_request_duration_seconds",
			Help: "Latency of synthetic requests as the admin-server saw it.",
		}),
		rateG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "infralab_traffic_rate_per_second",
			Help: "Configured synthetic request rate; 0 when traffic is off.",
		}),
	}
	if reg != nil {
		reg.MustRegister(g.results, g.latency, g.rateG)
	}
	if _, err := url.Parse(g.target); err != nil {
		return nil, err
	}
	if err := validate(rate, paths); err != nil {
		return nil, err
	}
	g.enabled, g.rate, g.paths = enabled, rate, slices.Clone(paths)
	return g, nil
}

func validate(rate int, paths []string) error {
	if rate < 0 || rate > MaxRate {
		return fmt.Errorf("rate_per_second: must be between 0 and %d, got %d", MaxRate, rate)
	}
	if len(paths) == 0 || len(paths) > MaxPaths {
		return fmt.Errorf("paths: give 1 to %d paths", MaxPaths)
	}
	for _, p := range paths {
		u, err := url.Parse(p)
		if err != nil || !strings.HasPrefix(p, "/") || u.Host != "" || strings.HasPrefix(p, "//") || len(p) > 256 {
			return fmt.Errorf("paths: %q must be an absolute path on the target, such as /api/health", p)
		}
	}
	return nil
}

// Start begins sending if the generator is enabled.
func (g *Generator) Start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.restartLocked()
}

// Apply changes the settings and restarts the attack accordingly.
func (g *Generator) Apply(s Settings) (Status, error) {
	g.mu.Lock()
	rate, paths, enabled := g.rate, g.paths, g.enabled
	if s.Rate != nil {
		rate = *s.Rate
	}
	if s.Paths != nil {
		paths = s.Paths
	}
	if s.Enabled != nil {
		enabled = *s.Enabled
	}
	if err := validate(rate, paths); err != nil {
		g.mu.Unlock()
		return g.Status(), err
	}
	g.enabled, g.rate, g.paths = enabled, rate, slices.Clone(paths)
	g.restartLocked()
	g.mu.Unlock()
	return g.Status(), nil
}

// Status reports the settings and counters.
func (g *Generator) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Status{Enabled: g.enabled, Running: g.attacker != nil, RatePerSecond: g.rate, MaxRate: MaxRate,
		TargetURL: g.target, Paths: slices.Clone(g.paths), Sent: g.sent.Load(), Failed: g.failed.Load()}
}

// Close stops the attack and waits for in-flight requests (bounded by RequestTimeout).
func (g *Generator) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopLocked()
}

func (g *Generator) stopLocked() {
	if g.attacker == nil {
		return
	}
	g.attacker.Stop()
	done := g.done
	g.attacker, g.done = nil, nil
	<-done // the result loop ends when vegeta closes the channel (in-flight requests end within RequestTimeout)
	g.rateG.Set(0)
	g.logger.Info("synthetic traffic stopped")
}

func (g *Generator) restartLocked() {
	g.stopLocked()
	if !g.enabled || g.rate == 0 {
		return
	}
	targets := make([]vegeta.Target, 0, len(g.paths))
	header := http.Header{"User-Agent": {"infralab-synthetic-traffic"}, "X-Synthetic-Traffic": {"1"}}
	for _, p := range g.paths {
		targets = append(targets, vegeta.Target{Method: http.MethodGet, URL: g.target + p, Header: header})
	}
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(RequestTimeout), vegeta.Workers(1), vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxConnections(maxWorkers), vegeta.KeepAlive(true), vegeta.MaxBody(4096), vegeta.Redirects(0),
	}
	if g.client != nil {
		opts = append(opts, vegeta.Client(g.client))
	}
	atk := vegeta.NewAttacker(opts...)
	res := atk.Attack(vegeta.NewStaticTargeter(targets...), vegeta.ConstantPacer{Freq: g.rate, Per: time.Second}, 0, "synthetic")
	done := make(chan struct{})
	g.attacker, g.done = atk, done
	g.rateG.Set(float64(g.rate))
	g.logger.Info("synthetic traffic started", slog.String("target_url", g.target),
		slog.Int("rate_per_second", g.rate), slog.Any("paths", g.paths))
	go func() {
		defer close(done)
		for r := range res {
			code := "error"
			if r.Code != 0 {
				code = strconv.Itoa(int(r.Code))
			}
			g.results.WithLabelValues(code).Inc()
			g.latency.Observe(r.Latency.Seconds())
			g.sent.Add(1)
			if r.Code == 0 || r.Code >= 500 {
				g.failed.Add(1)
			}
		}
	}()
}
