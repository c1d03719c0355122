//! Runtime configuration from environment variables.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use tracing::level_filters::LevelFilter;

pub const DEFAULT_APP_PORT: u16 = 8080;
pub const DEFAULT_OPS_PORT: u16 = 8081;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Port of the app server (what nginx routes to).
    pub app_port: u16,
    /// Port of the ops server (health, metrics).
    pub ops_port: u16,
    /// Most verbose level that is logged.
    pub log_level: LevelFilter,
    /// Worker threads of the app server; the ops server always uses one.
    pub http_workers: NonZeroUsize,
    /// Job intake, the external API and result callbacks.
    pub jobs: JobsConfig,
    /// How long SIGTERM waits for queued and running jobs before handing them back.
    pub shutdown_grace: Duration,
    /// Directory of the chaos `disk` ballast file.
    pub chaos_disk_path: PathBuf,
    /// Error reporting to Sentry (off without a DSN).
    pub sentry: SentryConfig,
    /// Which build this is (`APP_VERSION`, `APP_COMMIT`, baked into the image).
    pub build: BuildInfo,
}

/// The running build as the image declares it. Free text from the build: never
/// rejected, only ever passed through serializers (JSON, exposition format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// `APP_VERSION`, e.g. `6492e4b1c0de` or `6492e4b1c0de-dirty`; `dev` when unset.
    pub version: String,
    /// `APP_COMMIT`, the full git commit; `unknown` when unset.
    pub commit: String,
}

pub const DEV_VERSION: &str = "dev";
pub const UNKNOWN_COMMIT: &str = "unknown";

/// A developer build: neither variable set.
impl Default for BuildInfo {
    fn default() -> Self {
        Self {
            version: DEV_VERSION.to_owned(),
            commit: UNKNOWN_COMMIT.to_owned(),
        }
    }
}

impl BuildInfo {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Never fails, so the binary knows its version even when the rest of the
    /// configuration is invalid (the error line carries it too).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        // Empty or blank counts as unset, like every other variable.
        let get = |name: &str, default: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            version: get("APP_VERSION", DEV_VERSION),
            commit: get("APP_COMMIT", UNKNOWN_COMMIT),
        }
    }

    /// Sentry's `release`: `worker-server@<version>` (also `worker-server@dev`,
    /// so developer builds stay apart from image builds).
    pub fn release(&self) -> String {
        format!("{}@{}", crate::SERVICE_NAME, self.version)
    }
}

/// `SENTRY_DSN` and `SENTRY_ENVIRONMENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryConfig {
    /// A validated `http://` DSN; `None` (unset or empty) turns reporting off.
    pub dsn: Option<String>,
    /// Defaults to `lab`.
    pub environment: String,
}

pub const DEFAULT_SENTRY_ENVIRONMENT: &str = "lab";

/// Everything about jobs that an operator may tune. Defaults suit the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Jobs waiting for a free pool task; beyond this intake answers 429.
    pub queue_capacity: usize,
    /// Jobs processed concurrently.
    pub pool_size: usize,
    /// `Retry-After` seconds on 429 and 503.
    pub retry_after_secs: u64,
    /// Finished job ids remembered for de-duplication.
    pub dedup_capacity: usize,
    /// Base URL of the external API (`/v1/quote` is appended).
    pub ext_api_url: String,
    /// TCP connect timeout of one ext-api attempt.
    pub ext_connect_timeout: Duration,
    /// Total timeout of one ext-api attempt (connect, send, answer).
    pub ext_attempt_timeout: Duration,
    /// Attempts per job, first included.
    pub ext_max_attempts: u32,
    /// Budget of one job across all attempts and backoffs.
    pub job_deadline: Duration,
    /// Backoff before retry n is random in [0, min(max, base * 2^(n-1))].
    pub ext_backoff_base: Duration,
    pub ext_backoff_max: Duration,
    /// Consecutive failed ext-api attempts that open the circuit.
    pub breaker_failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub breaker_open_duration: Duration,
    /// Timeout of one result callback to core-server.
    pub callback_timeout: Duration,
    /// Callback attempts before giving up (the job id is then forgotten, so
    /// core's re-dispatch runs the job again).
    pub callback_max_attempts: u32,
    pub callback_backoff_base: Duration,
    pub callback_backoff_max: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 100,
            pool_size: 8,
            retry_after_secs: 2,
            dedup_capacity: 10_000,
            ext_api_url: "http://toxiproxy:18080".to_owned(),
            ext_connect_timeout: Duration::from_millis(500),
            ext_attempt_timeout: Duration::from_millis(2_000),
            ext_max_attempts: 3,
            job_deadline: Duration::from_millis(8_000),
            ext_backoff_base: Duration::from_millis(100),
            ext_backoff_max: Duration::from_millis(1_000),
            breaker_failure_threshold: 5,
            breaker_open_duration: Duration::from_millis(5_000),
            callback_timeout: Duration::from_millis(2_000),
            callback_max_attempts: 8,
            callback_backoff_base: Duration::from_millis(200),
            callback_backoff_max: Duration::from_millis(5_000),
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name}={value:?} is not a valid TCP port (1-65535)")]
    InvalidPort { name: &'static str, value: String },
    #[error("APP_PORT and OPS_PORT must differ (both are {0})")]
    SamePorts(u16),
    #[error("LOG_LEVEL={0:?} is not one of debug, info, warn, error")]
    InvalidLogLevel(String),
    #[error("HTTP_WORKERS={0:?} is not a positive integer")]
    InvalidWorkers(String),
    #[error("{name}={value:?} is not an integer in {min}..={max}")]
    OutOfRange {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    #[error("EXT_API_URL={0:?} is not an http:// or https:// URL")]
    InvalidUrl(String),
    #[error("SENTRY_DSN={value:?} is not usable: {reason}")]
    InvalidSentryDsn { value: String, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses configuration from any lookup function, so tests need not touch the
    /// process environment (which is shared between parallel tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let build = BuildInfo::from_lookup(&lookup);
        // An empty value counts as unset: compose files often pass `VAR=` through.
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let app_port = parse_port("APP_PORT", get("APP_PORT"), DEFAULT_APP_PORT)?;
        let ops_port = parse_port("OPS_PORT", get("OPS_PORT"), DEFAULT_OPS_PORT)?;
        if app_port == ops_port {
            return Err(ConfigError::SamePorts(app_port));
        }
        let log_level = match get("LOG_LEVEL") {
            None => LevelFilter::INFO,
            Some(v) => parse_log_level(&v)?,
        };
        let http_workers = match get("HTTP_WORKERS") {
            None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            Some(v) => v
                .trim()
                .parse::<NonZeroUsize>()
                .map_err(|_| ConfigError::InvalidWorkers(v))?,
        };
        let d = JobsConfig::default();
        // Every number here is positive: `num` and `ms` accept 1..=max.
        let num = |name: &'static str, default: u64, max: u64| {
            parse_range(name, get(name), default, 1, max)
        };
        let ms = |name: &'static str, default: Duration, max: u64| {
            num(name, default.as_millis() as u64, max).map(Duration::from_millis)
        };
        // `max` bounds the value, so the narrowing cast is lossless.
        let count = |name: &'static str, default: u32, max: u32| {
            num(name, default.into(), max.into()).map(|n| n as u32)
        };
        let ext_api_url = get("EXT_API_URL")
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .unwrap_or(d.ext_api_url);
        if !(ext_api_url.starts_with("http://") || ext_api_url.starts_with("https://")) {
            return Err(ConfigError::InvalidUrl(ext_api_url));
        }
        let jobs = JobsConfig {
            queue_capacity: num("JOB_QUEUE_CAPACITY", d.queue_capacity as u64, 100_000)? as usize,
            pool_size: num("JOB_WORKERS", d.pool_size as u64, 1024)? as usize,
            retry_after_secs: num("JOB_RETRY_AFTER_SECONDS", d.retry_after_secs, 3600)?,
            dedup_capacity: num("JOB_DEDUP_CAPACITY", d.dedup_capacity as u64, 10_000_000)?
                as usize,
            ext_api_url,
            ext_connect_timeout: ms("EXT_CONNECT_TIMEOUT_MS", d.ext_connect_timeout, 60_000)?,
            ext_attempt_timeout: ms("EXT_TIMEOUT_MS", d.ext_attempt_timeout, 600_000)?,
            ext_max_attempts: count("EXT_MAX_ATTEMPTS", d.ext_max_attempts, 20)?,
            job_deadline: ms("JOB_DEADLINE_MS", d.job_deadline, 3_600_000)?,
            ext_backoff_base: ms("EXT_BACKOFF_BASE_MS", d.ext_backoff_base, 60_000)?,
            ext_backoff_max: ms("EXT_BACKOFF_MAX_MS", d.ext_backoff_max, 600_000)?,
            breaker_failure_threshold: count(
                "BREAKER_FAILURE_THRESHOLD",
                d.breaker_failure_threshold,
                10_000,
            )?,
            breaker_open_duration: ms("BREAKER_OPEN_MS", d.breaker_open_duration, 3_600_000)?,
            callback_timeout: ms("CALLBACK_TIMEOUT_MS", d.callback_timeout, 600_000)?,
            callback_max_attempts: count("CALLBACK_MAX_ATTEMPTS", d.callback_max_attempts, 100)?,
            callback_backoff_base: ms("CALLBACK_BACKOFF_BASE_MS", d.callback_backoff_base, 60_000)?,
            callback_backoff_max: ms("CALLBACK_BACKOFF_MAX_MS", d.callback_backoff_max, 600_000)?,
        };
        let shutdown_grace = Duration::from_secs(num("SHUTDOWN_GRACE_SECONDS", 12, 3600)?);
        let chaos_disk_path = get("CHAOS_DISK_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let sentry = SentryConfig {
            dsn: get("SENTRY_DSN")
                .map(|v| parse_sentry_dsn(v.trim()))
                .transpose()?,
            environment: get("SENTRY_ENVIRONMENT")
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| DEFAULT_SENTRY_ENVIRONMENT.to_owned()),
        };
        Ok(Self {
            app_port,
            ops_port,
            log_level,
            http_workers,
            jobs,
            shutdown_grace,
            chaos_disk_path,
            sentry,
            build,
        })
    }
}

/// A DSN the SDK can use (http:// for the lab's stand-in, https:// for real Sentry).
fn parse_sentry_dsn(value: &str) -> Result<String, ConfigError> {
    let _: sentry::types::Dsn = value.parse().map_err(|e| ConfigError::InvalidSentryDsn {
        value: value.to_owned(),
        reason: format!("{e}"),
    })?;
    Ok(value.to_owned())
}

fn parse_range(
    name: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::OutOfRange {
            name,
            value,
            min,
            max,
        }),
    }
}

fn parse_port(name: &'static str, value: Option<String>, default: u16) -> Result<u16, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ConfigError::InvalidPort { name, value }),
    }
}

/// Only the four levels the log contract knows are accepted; anything else is a
/// configuration mistake worth failing on rather than silently logging at info.
pub fn parse_log_level(value: &str) -> Result<LevelFilter, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "debug" => Ok(LevelFilter::DEBUG),
        "info" => Ok(LevelFilter::INFO),
        "warn" | "warning" => Ok(LevelFilter::WARN),
        "error" => Ok(LevelFilter::ERROR),
        _ => Err(ConfigError::InvalidLogLevel(value.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let c = config(&[("APP_PORT", ""), ("LOG_LEVEL", " ")]).unwrap();
        assert_eq!(c.app_port, 8080);
        assert_eq!(c.ops_port, 8081);
        assert_eq!(c.log_level, LevelFilter::INFO);
        assert!(c.http_workers.get() >= 1);
        assert_eq!(c.jobs, JobsConfig::default());
        assert_eq!(c.jobs.ext_api_url, "http://toxiproxy:18080");
        assert_eq!(c.shutdown_grace, Duration::from_secs(12));
        assert_eq!(c.sentry.dsn, None);
        assert_eq!(c.sentry.environment, "lab");
        assert_eq!(c.build, BuildInfo::default());
    }

    #[test]
    fn build_identity_is_free_text_with_developer_defaults() {
        let commit = "6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6";
        let cases = [
            (vec![], "dev", "unknown"),
            (
                vec![("APP_VERSION", ""), ("APP_COMMIT", " ")],
                "dev",
                "unknown",
            ),
            (
                vec![("APP_VERSION", "6492e4b1c0de"), ("APP_COMMIT", commit)],
                "6492e4b1c0de",
                commit,
            ),
            (
                vec![("APP_VERSION", " 6492e4b1c0de-dirty\n")],
                "6492e4b1c0de-dirty",
                "unknown",
            ),
            // Anything else is kept as it is, not rejected.
            (
                vec![("APP_VERSION", "v\"1\",\\x\n}"), ("APP_COMMIT", "ünïcode")],
                "v\"1\",\\x\n}",
                "ünïcode",
            ),
        ];
        for (vars, version, commit) in &cases {
            let build = config(vars).expect("never a configuration error").build;
            assert_eq!(
                (build.version.as_str(), build.commit.as_str()),
                (*version, *commit),
                "{vars:?}"
            );
            assert_eq!(build.release(), format!("worker-server@{version}"));
        }
    }

    #[test]
    fn sentry_settings() {
        let c = config(&[("SENTRY_DSN", " "), ("SENTRY_ENVIRONMENT", "")]).unwrap();
        assert_eq!(c.sentry.dsn, None);
        assert_eq!(c.sentry.environment, "lab");
        let c = config(&[
            ("SENTRY_DSN", "http://worker@sentry-sink:8080/2"),
            ("SENTRY_ENVIRONMENT", "ci"),
        ])
        .unwrap();
        assert_eq!(
            c.sentry.dsn.as_deref(),
            Some("http://worker@sentry-sink:8080/2")
        );
        assert_eq!(c.sentry.environment, "ci");
        assert!(config(&[("SENTRY_DSN", "https://key@o1.ingest.sentry.io/2")]).is_ok());
        for bad in ["not a dsn", "http://sentry-sink:8080/2"] {
            assert!(
                matches!(
                    config(&[("SENTRY_DSN", bad)]),
                    Err(ConfigError::InvalidSentryDsn { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("APP_PORT", "9000"),
            ("OPS_PORT", "9001"),
            ("LOG_LEVEL", "DEBUG"),
            ("HTTP_WORKERS", "3"),
            ("JOB_QUEUE_CAPACITY", "7"),
            ("EXT_TIMEOUT_MS", "250"),
            ("EXT_API_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert_eq!(c.jobs.queue_capacity, 7);
        assert_eq!(c.jobs.ext_attempt_timeout, Duration::from_millis(250));
        assert_eq!(c.jobs.ext_api_url, "http://127.0.0.1:9");
        assert_eq!((c.app_port, c.ops_port), (9000, 9001));
        assert_eq!(c.log_level, LevelFilter::DEBUG);
        assert_eq!(c.http_workers.get(), 3);
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert_eq!(
            config(&[("APP_PORT", "80a")]),
            Err(ConfigError::InvalidPort {
                name: "APP_PORT",
                value: "80a".into()
            })
        );
        assert!(matches!(
            config(&[("OPS_PORT", "0")]),
            Err(ConfigError::InvalidPort { .. })
        ));
        assert_eq!(
            config(&[("OPS_PORT", "8080")]),
            Err(ConfigError::SamePorts(8080))
        );
        assert_eq!(
            config(&[("LOG_LEVEL", "trace")]),
            Err(ConfigError::InvalidLogLevel("trace".into()))
        );
        assert_eq!(
            config(&[("HTTP_WORKERS", "0")]),
            Err(ConfigError::InvalidWorkers("0".into()))
        );
        assert!(matches!(
            config(&[("JOB_QUEUE_CAPACITY", "0")]),
            Err(ConfigError::OutOfRange {
                name: "JOB_QUEUE_CAPACITY",
                ..
            })
        ));
        assert!(matches!(
            config(&[("EXT_TIMEOUT_MS", "fast")]),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            config(&[("EXT_API_URL", "toxiproxy:18080")]),
            Err(ConfigError::InvalidUrl(_))
        ));
    }
}
