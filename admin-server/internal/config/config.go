// Package config reads the process configuration from the environment once at start.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// ServiceName is the value of the `service` field on every log line and in JSON bodies.
const ServiceName = "admin-server"

// MinTokenLength is the shortest ADMIN_TOKEN accepted: shorter secrets are guessable.
const MinTokenLength = 16

// listenHost is fixed by the shared service contract (listen on all IPv4 interfaces).
const listenHost = "0.0.0.0"

const (
	defaultAppPort = 8080
	defaultOpsPort = 8081
)

// Config is the validated configuration. Token is a secret: never log it.
type Config struct {
	AppPort  int
	OpsPort  int
	Token    string
	LogLevel slog.Level
	Lab      Lab
	// SentryDSN is SENTRY_DSN; empty turns error reporting off (no client, no network).
	SentryDSN string
	// SentryEnvironment is SENTRY_ENVIRONMENT, default DefaultSentryEnvironment.
	SentryEnvironment string
	// Build names the running image (APP_VERSION, APP_COMMIT).
	Build Build
}

// Build identifies the running image. The image build bakes APP_VERSION (git short
// commit, "-dirty" when the folder had changes) and APP_COMMIT (the full commit) into
// the environment; this is the only place the process learns them.
type Build struct {
	Version string // APP_VERSION, DevVersion when unset
	Commit  string // APP_COMMIT, UnknownCommit when unset
}

const (
	// DevVersion is the version of a build without APP_VERSION (a developer's build).
	DevVersion = "dev"
	// UnknownCommit is the commit of a build without APP_COMMIT.
	UnknownCommit = "unknown"
)

// LoadBuild reads APP_VERSION and APP_COMMIT. It never fails, so even the refusal to
// start can name the build: the values are free text from the build and are kept as
// given, except surrounding whitespace (a CR from an .env file) and invalid UTF-8,
// which the metric registry would reject at start and JSON would silently replace.
func LoadBuild(getenv func(string) string) Build {
	return Build{
		Version: buildValue(getenv("APP_VERSION"), DevVersion),
		Commit:  buildValue(getenv("APP_COMMIT"), UnknownCommit),
	}
}

func buildValue(raw, def string) string {
	v := strings.ToValidUTF8(strings.TrimSpace(raw), "\uFFFD")
	if v == "" {
		return def
	}
	return v
}

// DefaultSentryEnvironment is the Sentry environment when SENTRY_ENVIRONMENT is unset.
const DefaultSentryEnvironment = "lab"

// Load reads and validates every variable, reporting all problems at once so an operator
// fixes the .env file in one go. getenv is os.Getenv in production and a map in tests.
func Load(getenv func(string) string) (Config, error) {
	var cfg Config
	var appErr, opsErr, tokenErr, levelErr error
	cfg.AppPort, appErr = port(getenv, "APP_PORT", defaultAppPort)
	cfg.OpsPort, opsErr = port(getenv, "OPS_PORT", defaultOpsPort)
	cfg.Token, tokenErr = token(getenv("ADMIN_TOKEN"))
	cfg.LogLevel, levelErr = logLevel(getenv("LOG_LEVEL"))
	var labErr error
	cfg.Lab, labErr = loadLab(getenv)
	cfg.SentryDSN = strings.TrimSpace(getenv("SENTRY_DSN"))
	cfg.SentryEnvironment = strings.TrimSpace(getenv("SENTRY_ENVIRONMENT"))
	if cfg.SentryEnvironment == "" {
		cfg.SentryEnvironment = DefaultSentryEnvironment
	}
	cfg.Build = LoadBuild(getenv)

	errs := []error{appErr, opsErr, tokenErr, levelErr, labErr}
	if appErr == nil && opsErr == nil && cfg.AppPort == cfg.OpsPort {
		errs = append(errs, fmt.Errorf("APP_PORT and OPS_PORT must differ (both are %d)", cfg.AppPort))
	}
	// errors.Join drops the nil entries and returns nil when all are nil.
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// AppAddr is the listen address of the app port (what nginx routes /admin/ to).
func (c Config) AppAddr() string { return net.JoinHostPort(listenHost, strconv.Itoa(c.AppPort)) }

// OpsAddr is the listen address of the ops port (health and metrics).
func (c Config) OpsAddr() string { return net.JoinHostPort(listenHost, strconv.Itoa(c.OpsPort)) }

// LogValue lets the config be logged at start without leaking the token.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("app_port", c.AppPort),
		slog.Int("ops_port", c.OpsPort),
		slog.String("log_level", strings.ToLower(c.LogLevel.String())),
		slog.Int("admin_token_length", len(c.Token)),
		slog.Any("chaos_targets", c.Lab.ChaosTargets),
		slog.String("docker_host", c.Lab.DockerHost),
		slog.String("toxiproxy_url", c.Lab.ToxiproxyURL),
		slog.Any("toxiproxy_proxies", c.Lab.ToxiproxyProxies),
		slog.String("state_dir", c.Lab.StateDir),
		slog.Float64("fault_ttl_default_seconds", c.Lab.FaultTTL.Seconds()),
		slog.Float64("fault_ttl_max_seconds", c.Lab.FaultMaxTTL.Seconds()),
		slog.Float64("rate_limit_per_second", c.Lab.RateLimit),
		slog.Bool("traffic_enabled", c.Lab.TrafficEnabled),
		slog.String("traffic_target_url", c.Lab.TrafficTarget),
		slog.Int("traffic_rate", c.Lab.TrafficRate),
		slog.Int("traffic_job_share", c.Lab.TrafficJobShare),
		slog.String("grafana_url_path", c.Lab.GrafanaPath),
		slog.Bool("sentry_enabled", c.SentryDSN != ""), // the DSN itself is not logged
		slog.String("sentry_environment", c.SentryEnvironment),
	)
}

func port(getenv func(string) string, name string, def int) (int, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	p, err := strconv.Atoi(raw)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s must be a port number between 1 and 65535, got %q", name, raw)
	}
	return p, nil
}

func token(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("ADMIN_TOKEN is required: set it to a random secret of at least %d characters (e.g. openssl rand -hex 32)", MinTokenLength)
	}
	// A bearer token cannot carry whitespace; a stray space or CR from an .env file
	// would otherwise make every request fail with a token that looks right.
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return "", errors.New("ADMIN_TOKEN must not contain whitespace or control characters")
	}
	if len(raw) < MinTokenLength {
		return "", fmt.Errorf("ADMIN_TOKEN is too short: %d characters, need at least %d", len(raw), MinTokenLength)
	}
	return raw, nil
}

func logLevel(raw string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL must be one of debug, info, warn, error; got %q", raw)
}
