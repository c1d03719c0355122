//! Runtime configuration from environment variables.

use std::num::NonZeroUsize;

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
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses configuration from any lookup function, so tests need not touch the
    /// process environment (which is shared between parallel tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
        Ok(Self {
            app_port,
            ops_port,
            log_level,
            http_workers,
        })
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
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("APP_PORT", "9000"),
            ("OPS_PORT", "9001"),
            ("LOG_LEVEL", "DEBUG"),
            ("HTTP_WORKERS", "3"),
        ])
        .unwrap();
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
    }
}
