// Command admin-server is infra-lab's fault-control plane. main only reads the
// configuration, builds the logger and turns signals into a cancelled context.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		// The level is unknown until the config loads; a refusal is always worth an error
		// line, and it names the build like every other line.
		build := config.LoadBuild(os.Getenv)
		logger := slog.New(logging.NewHandler(os.Stdout, slog.LevelInfo, config.ServiceName, build.Version))
		logger.Error("invalid configuration, refusing to start", slog.String("error", err.Error()),
			slog.String("commit", build.Commit))
		return 1
	}
	logger := slog.New(logging.NewHandler(os.Stdout, cfg.LogLevel, config.ServiceName, cfg.Build.Version))
	slog.SetDefault(logger)

	// Error reporting (Sentry): off without SENTRY_DSN; a bad DSN is logged, not fatal.
	sentryOpts := errtrack.OptionsFrom(cfg)
	if on, err := errtrack.Init(sentryOpts); err != nil {
		logger.Error("error reporting disabled: invalid Sentry DSN", slog.String("error", err.Error()))
	} else if on {
		logger.Info("error reporting to Sentry enabled", slog.String("environment", sentryOpts.Environment),
			slog.String("release", sentryOpts.Release))
	}
	// Runs after the servers drained and faults.Close reported what it could not revert.
	defer func() {
		if !errtrack.Close(errtrack.FlushTimeout) {
			logger.Warn("some Sentry events were not delivered before exit")
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv := server.New(server.Options{Config: cfg, Logger: logger})
	if err := srv.ListenAndServe(ctx); err != nil {
		logger.Error("admin-server stopped with an error", slog.String("error", err.Error()))
		return 1
	}
	logger.Info("shutdown complete")
	return 0
}
