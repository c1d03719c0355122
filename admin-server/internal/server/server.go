// Package server runs the app and ops HTTP servers and shuts both down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/httpapi"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/ratelimit"
	"github.com/infra-lab/admin-server/internal/traffic"
)

// DefaultShutdownTimeout bounds the drain of in-flight requests (shared contract: <= 10 s).
const DefaultShutdownTimeout = 10 * time.Second

// Server timeouts: a client that dribbles headers or never reads must not pin a
// goroutine forever on a box with two cores.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
)

// Options configures a Server.
type Options struct {
	Config          config.Config
	Logger          *slog.Logger  // built with Config.Build.Version, like main does
	ShutdownTimeout time.Duration // 0 means DefaultShutdownTimeout
}

// Server owns the two handlers and the state they share (metrics, health).
type Server struct {
	logger          *slog.Logger
	cfg             config.Config
	shutdownTimeout time.Duration
	appServing      *health.Flag
	app, ops        http.Handler
	faults          *faults.Manager
	traffic         *traffic.Generator
}

// New wires metrics, auth, health and both handlers.
func New(opts Options) *Server {
	s := &Server{
		logger:          opts.Logger,
		cfg:             opts.Config,
		shutdownTimeout: opts.ShutdownTimeout,
		appServing:      health.NewFlag("app server is not serving"),
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	build := opts.Config.Build
	m := metrics.New(config.ServiceName, build)
	checker := &health.Checker{}
	checker.Add("app_listener", s.appServing.Check)
	lab := opts.Config.Lab
	s.faults = newFaultManager(opts.Logger, m, lab)
	s.traffic = newTraffic(opts.Logger, m, lab)

	s.app = (&httpapi.App{
		Service:   config.ServiceName,
		Version:   build.Version,
		Commit:    build.Commit,
		StartedAt: time.Now(),
		Logger:    opts.Logger,
		Metrics:   m,
		Auth:      auth.NewBearer(opts.Config.Token, m),
		Health:    checker,
		Faults:    s.faults,
		Traffic:   s.traffic,
		Grafana:   grafanaPath(lab),
		Limiter:   ratelimit.New(rateOrDefault(lab.RateLimit), int(2*rateOrDefault(lab.RateLimit)), nil),
	}).Handler()
	s.ops = (&httpapi.Ops{Service: config.ServiceName, Version: build.Version, Commit: build.Commit,
		Metrics: m, Health: checker}).Handler()
	return s
}

// ListenAndServe binds both ports from the config, then serves like Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	appLn, err := net.Listen("tcp", s.cfg.AppAddr())
	if err != nil {
		return fmt.Errorf("app port: %w", err)
	}
	opsLn, err := net.Listen("tcp", s.cfg.OpsAddr())
	if err != nil {
		_ = appLn.Close()
		return fmt.Errorf("ops port: %w", err)
	}
	return s.Serve(ctx, appLn, opsLn)
}

// Serve serves the app and ops handlers on the given listeners until ctx is done or
// either server fails, then drains both within the shutdown budget. It returns nil
// after a clean drain.
func (s *Server) Serve(ctx context.Context, appLn, opsLn net.Listener) error {
	// The startup line: `version` is on every line already (the handler's), the commit
	// is named here once.
	s.logger.Info("admin-server listening",
		slog.String("commit", s.cfg.Build.Commit),
		slog.String("app_addr", appLn.Addr().String()),
		slog.String("ops_addr", opsLn.Addr().String()),
		slog.Any("config", s.cfg))
	if err := s.faults.Start(ctx); err != nil {
		// A corrupt state file must not keep the lab from starting: say so loudly.
		s.logger.Error("could not load the fault state; starting with none", slog.String("error", err.Error()))
	}
	s.traffic.Start()
	err := serveAll(ctx, s.logger, s.shutdownTimeout, s.appServing, []namedServer{
		{name: "app", srv: s.newHTTPServer(s.app), ln: appLn},
		{name: "ops", srv: s.newHTTPServer(s.ops), ln: opsLn},
	})
	s.traffic.Close()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	s.faults.Close(closeCtx)
	return err
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		// net/http's own complaints (TLS junk, broken clients) as JSON lines too.
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

type namedServer struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// serveAll is Serve without the wiring, so the drain logic is testable with any handler.
// serving is set while the servers accept connections and cleared when draining starts.
func serveAll(ctx context.Context, logger *slog.Logger, budget time.Duration, serving *health.Flag, servers []namedServer) error {
	// Buffered for every server so no goroutine blocks after we stop listening.
	failed := make(chan error, len(servers))
	for _, ns := range servers {
		go func() {
			if err := ns.srv.Serve(ns.ln); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("%s server: %w", ns.name, err)
			}
		}()
	}
	serving.Set(true)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutdown started", slog.String("reason", context.Cause(ctx).Error()),
			slog.Float64("budget_seconds", budget.Seconds()))
	case runErr = <-failed:
		// One server dying makes the process useless: drain the other and exit non-zero.
		logger.Error("server failed, shutting down", slog.String("error", runErr.Error()))
	}
	serving.Set(false)

	// WithoutCancel: ctx is already done, yet the drain needs its own live deadline.
	// Both servers drain in parallel and share one budget.
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, ns := range servers {
		wg.Go(func() {
			if err := ns.srv.Shutdown(drainCtx); err != nil {
				// Budget spent: cut the remaining connections rather than hang.
				_ = ns.srv.Close()
				errs[i] = fmt.Errorf("%s server shutdown: %w", ns.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(append([]error{runErr}, errs...)...)
}
