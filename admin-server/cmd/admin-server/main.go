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

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		// The level is unknown until the config loads; a refusal is always worth an error line.
		logger := slog.New(logging.NewHandler(os.Stdout, slog.LevelInfo, config.ServiceName))
		logger.Error("invalid configuration, refusing to start", slog.String("error", err.Error()))
		return 1
	}
	logger := slog.New(logging.NewHandler(os.Stdout, cfg.LogLevel, config.ServiceName))
	slog.SetDefault(logger)

	// Error reporting (Sentry): off without SENTRY_DSN; a bad DSN is logged, not fatal.
	release := ""
	if version != "" && version != "dev" {
		release = config.ServiceName + "@" + version
	}
	if on, err := errtrack.Init(errtrack.Options{
		DSN: cfg.SentryDSN, Environment: cfg.SentryEnvironment, Release: release, Service: config.ServiceName,
	}); err != nil {
		logger.Error("error reporting disabled: invalid Sentry DSN", slog.String("error", err.Error()))
	} else if on {
		logger.Info("error reporting to Sentry enabled", slog.String("environment", cfg.SentryEnvironment),
			slog.String("release", release))
	}
	// Runs after the servers drained and faults.Close reported what it could not revert.
	defer func() {
		if !errtrack.Close(errtrack.FlushTimeout) {
			logger.Warn("some Sentry events were not delivered before exit")
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv := server.New(server.Options{Config: cfg, Logger: logger, Version: version})
	if err := srv.ListenAndServe(ctx); err != nil {
		logger.Error("admin-server stopped with an error", slog.String("error", err.Error()))
		return 1
	}
	logger.Info("shutdown complete")
	return 0
}
