package server

import (
	"context"
	"log/slog"

	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/drivers/chaos"
	"github.com/infra-lab/admin-server/internal/drivers/docker"
	"github.com/infra-lab/admin-server/internal/drivers/toxiproxy"
	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/traffic"
)

func rateOrDefault(r float64) float64 {
	if r <= 0 {
		return config.DefaultRateLimit
	}
	return r
}

// openStore uses the state directory, or falls back to memory with an error line:
// the lab must keep starting without a volume (faults then do not survive a restart
// and are reverted at shutdown instead).
func openStore(logger *slog.Logger, dir string) faults.Store {
	if dir == "" {
		logger.Error("no state directory configured: fault state is kept in memory only")
		return &faults.MemoryStore{}
	}
	fs, err := faults.OpenFileStore(dir)
	if err != nil {
		logger.Error("state directory unusable: fault state is kept in memory only (faults are reverted at shutdown, not reconciled after a restart); mount a writable volume at ADMIN_STATE_DIR",
			slog.String("state_dir", dir), slog.String("error", err.Error()))
		return &faults.MemoryStore{}
	}
	logger.Info("fault state file", slog.String("path", fs.Where()))
	return fs
}

func newFaultManager(logger *slog.Logger, m *metrics.Metrics, lab config.Lab) *faults.Manager {
	drivers := []faults.Driver{chaos.New(lab.ChaosTargets, nil)}
	if d, err := docker.New(lab.DockerHost); err != nil {
		logger.Error("container fault driver disabled", slog.String("error", err.Error()))
	} else {
		drivers = append(drivers, d)
	}
	if lab.ToxiproxyURL != "" {
		drivers = append(drivers, toxiproxy.New(lab.ToxiproxyURL, lab.ToxiproxyProxies, nil))
	}
	return faults.NewManager(faults.Options{
		Drivers:    drivers,
		Store:      openStore(logger, lab.StateDir),
		Logger:     logger,
		Metrics:    faults.NewMetrics(m.Registry()),
		DefaultTTL: lab.FaultTTL,
		MaxTTL:     lab.FaultMaxTTL,

		OnRevertFailure: reportRevertFailure,
	})
}

// reportRevertFailure sends a Sentry event when an operator must know that a fault
// could not be reverted: the first failure (retries follow every 10 s), giving up,
// a failure at shutdown (nothing retries after exit), a failed clean-up after an
// ambiguous injection, and every failure asked for through the API. Intermediate
// timer retries only log and count (infralab_fault_revert_failures_total), so one
// stuck fault does not send ten events.
func reportRevertFailure(ctx context.Context, rf faults.RevertFailure) {
	api := rf.Reason == "api"
	if !(api || rf.GaveUp || rf.Fault.RevertAttempts <= 1 || rf.Reason == "shutdown" || rf.Reason == "inject_cleanup") {
		return
	}
	errtrack.CaptureFaultFailure(ctx, errtrack.FaultFailure{
		ID: rf.Fault.ID, Type: rf.Fault.Type, Target: rf.Fault.Target,
		Reason: rf.Reason, Attempts: rf.Fault.RevertAttempts, GaveUp: rf.GaveUp, Err: rf.Err,
		ReplacesRequestEvent: api,
	})
}

func newTraffic(logger *slog.Logger, m *metrics.Metrics, lab config.Lab) *traffic.Generator {
	target := lab.TrafficTarget
	if target == "" {
		target = config.DefaultTrafficTarget
	}
	mix := traffic.Mix{Rate: lab.TrafficRate, Paths: lab.TrafficPaths, JobShare: lab.TrafficJobShare}
	if len(mix.Paths) == 0 {
		mix.Paths = []string{config.DefaultTrafficPaths}
	}
	g, err := traffic.New(logger, m.Registry(), target, lab.TrafficEnabled, mix)
	if err != nil { // config.Load validated the same bounds; this is a programming error
		logger.Error("synthetic traffic disabled", slog.String("error", err.Error()))
		g, _ = traffic.New(logger, nil, target, false, traffic.Mix{Paths: []string{config.DefaultTrafficPaths}})
	}
	return g
}

// grafanaPath is the base of the control page's dashboard links; a Lab built without
// config.Load (tests) gets the default.
func grafanaPath(lab config.Lab) string {
	if lab.GrafanaPath == "" {
		return config.DefaultGrafanaPath
	}
	return lab.GrafanaPath
}
