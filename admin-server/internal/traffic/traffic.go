// Package traffic sends a steady, bounded synthetic load toward nginx with vegeta's
// attack library, so dashboards and alerts have something to measure while faults run.
// A configurable share of the requests submits jobs, so the job pipeline (core-server,
// worker-server, ext-api) carries load too, not only the read paths.
package traffic

import (
	"crypto/rand"
	"encoding/hex"
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
	MaxJobShare    = 100 // percent
	RequestTimeout = 5 * time.Second
	maxWorkers     = 16 // concurrent requests in flight, at most
)

// Mix is what the generator sends: how often, which paths it reads, and which share of
// the requests are job submissions instead.
type Mix struct {
	Rate     int      // requests per second, 0..MaxRate
	Paths    []string // GET paths on the target, 1..MaxPaths
	JobShare int      // percent of requests that POST JobPath, 0..MaxJobShare
}

// Settings is a change request (PUT /admin/api/traffic); nil fields stay as they are.
type Settings struct {
	Enabled  *bool    `json:"enabled"`
	Rate     *int     `json:"rate_per_second"`
	Paths    []string `json:"paths"`
	JobShare *int     `json:"job_share"`
}

// Counts are the outcomes of one kind of request.
type Counts struct {
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"` // no answer, or a 5xx
}

// Status is the generator's current configuration and counters.
type Status struct {
	Enabled       bool              `json:"enabled"`
	Running       bool              `json:"running"`
	RatePerSecond int               `json:"rate_per_second"`
	MaxRate       int               `json:"max_rate_per_second"`
	TargetURL     string            `json:"target_url"`
	Paths         []string          `json:"paths"`
	JobShare      int               `json:"job_share"`
	JobPath       string            `json:"job_path"`
	Sent          uint64            `json:"sent"`
	Failed        uint64            `json:"failed"`
	ByKind        map[string]Counts `json:"by_kind"`
}

// counters are one kind's running totals.
type counters struct{ sent, failed atomic.Uint64 }

// Generator runs at most one attack at a time.
type Generator struct {
	logger  *slog.Logger
	target  string
	client  *http.Client // nil: vegeta's own
	run     string       // random id in this process's job keys
	jobs    atomic.Uint64
	results *prometheus.CounterVec
	latency *prometheus.HistogramVec
	rateG   prometheus.Gauge
	counts  map[string]*counters // by kind; fixed at New, so reads need no lock

	mu       sync.Mutex
	enabled  bool
	mix      Mix
	attacker *vegeta.Attacker
	done     chan struct{}
}

// New builds a stopped generator; call Apply or Start to run it.
func New(logger *slog.Logger, reg prometheus.Registerer, target string, enabled bool, mix Mix) (*Generator, error) {
	var run [6]byte
	_, _ = rand.Read(run[:]) // crypto/rand.Read does not fail (it aborts the program instead)
	g := &Generator{
		logger: logger, target: strings.TrimRight(target, "/"), run: hex.EncodeToString(run[:]),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infralab_traffic_requests_total",
			Help: "Synthetic requests sent toward nginx, by status code (\"error\" when none came back) and kind (get, job).",
		}, []string{"code", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "infralab_traffic_request_duration_seconds",
			Help: "Latency of synthetic requests as the admin-server saw it, by kind (get, job).",
		}, []string{"kind"}),
		rateG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "infralab_traffic_rate_per_second",
			Help: "Configured synthetic request rate; 0 when traffic is off.",
		}),
		counts: map[string]*counters{KindGet: {}, KindJob: {}},
	}
	for kind := range g.counts {
		// The histogram was unlabelled before it had kinds, and so existed from the start:
		// keep its series there at 0 for dashboard queries that run before any traffic.
		g.latency.WithLabelValues(kind)
	}
	if reg != nil {
		reg.MustRegister(g.results, g.latency, g.rateG)
	}
	if _, err := url.Parse(g.target); err != nil {
		return nil, err
	}
	if err := mix.validate(); err != nil {
		return nil, err
	}
	mix.Paths = slices.Clone(mix.Paths)
	g.enabled, g.mix = enabled, mix
	return g, nil
}

func (m Mix) validate() error {
	if m.Rate < 0 || m.Rate > MaxRate {
		return fmt.Errorf("rate_per_second: must be between 0 and %d, got %d", MaxRate, m.Rate)
	}
	if m.JobShare < 0 || m.JobShare > MaxJobShare {
		return fmt.Errorf("job_share: must be a percentage between 0 and %d, got %d", MaxJobShare, m.JobShare)
	}
	if len(m.Paths) == 0 || len(m.Paths) > MaxPaths {
		return fmt.Errorf("paths: give 1 to %d paths", MaxPaths)
	}
	for _, p := range m.Paths {
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
	mix, enabled := g.mix, g.enabled
	if s.Rate != nil {
		mix.Rate = *s.Rate
	}
	if s.Paths != nil {
		mix.Paths = slices.Clone(s.Paths)
	}
	if s.JobShare != nil {
		mix.JobShare = *s.JobShare
	}
	if s.Enabled != nil {
		enabled = *s.Enabled
	}
	if err := mix.validate(); err != nil {
		g.mu.Unlock()
		return g.Status(), err
	}
	g.enabled, g.mix = enabled, mix
	g.restartLocked()
	g.mu.Unlock()
	return g.Status(), nil
}

// Status reports the settings and counters.
func (g *Generator) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := Status{Enabled: g.enabled, Running: g.attacker != nil, RatePerSecond: g.mix.Rate, MaxRate: MaxRate,
		TargetURL: g.target, Paths: slices.Clone(g.mix.Paths), JobShare: g.mix.JobShare, JobPath: JobPath,
		ByKind: map[string]Counts{}}
	for kind, c := range g.counts {
		kc := Counts{Sent: c.sent.Load(), Failed: c.failed.Load()}
		st.ByKind[kind] = kc
		st.Sent += kc.Sent
		st.Failed += kc.Failed
	}
	return st
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

func (g *Generator) targeter() *targeter {
	return &targeter{base: g.target, paths: g.mix.Paths, share: uint64(g.mix.JobShare), run: g.run, jobs: &g.jobs}
}

func (g *Generator) restartLocked() {
	g.stopLocked()
	if !g.enabled || g.mix.Rate == 0 {
		return
	}
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(RequestTimeout), vegeta.Workers(1), vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxConnections(maxWorkers), vegeta.KeepAlive(true), vegeta.MaxBody(4096), vegeta.Redirects(0),
	}
	if g.client != nil {
		opts = append(opts, vegeta.Client(g.client))
	}
	atk := vegeta.NewAttacker(opts...)
	res := atk.Attack(g.targeter().next, vegeta.ConstantPacer{Freq: g.mix.Rate, Per: time.Second}, 0, "synthetic")
	done := make(chan struct{})
	g.attacker, g.done = atk, done
	g.rateG.Set(float64(g.mix.Rate))
	g.logger.Info("synthetic traffic started", slog.String("target_url", g.target),
		slog.Int("rate_per_second", g.mix.Rate), slog.Any("paths", g.mix.Paths), slog.Int("job_share", g.mix.JobShare))
	go func() {
		defer close(done)
		for r := range res {
			g.record(r)
		}
	}()
}

// record counts one result under its kind.
func (g *Generator) record(r *vegeta.Result) {
	kind := kindOf(r.Method)
	code := "error"
	if r.Code != 0 {
		code = strconv.Itoa(int(r.Code))
	}
	g.results.WithLabelValues(code, kind).Inc()
	g.latency.WithLabelValues(kind).Observe(r.Latency.Seconds())
	c := g.counts[kind]
	c.sent.Add(1)
	if r.Code == 0 || r.Code >= 500 {
		c.failed.Add(1)
	}
}
