//! Calls to the external API (ext-api, through toxiproxy in the lab): timeouts,
//! bounded retries with backoff and jitter where safe, the circuit breaker, and
//! the classification of every failure into the contract's error kinds.

use std::time::{Duration, Instant};

use actix_web::web::Data;
use reqwest::StatusCode;
use serde_json::Value;
use tracing::{debug, warn};

use super::breaker::{Breaker, CircuitState};
use super::{ErrorKind, JobError, JobType};
use crate::config::JobsConfig;
use crate::telemetry::metrics::Metrics;

/// The ext-api client of the pool (one connection pool for all jobs).
pub struct ExtApi {
    client: reqwest::Client,
    base_url: String,
    breaker: Breaker,
    metrics: Data<Metrics>,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
}

/// What one attempt ended with.
#[derive(Debug)]
struct AttemptError {
    kind: ErrorKind,
    message: String,
    /// The request certainly did not reach the server (connection refused).
    not_sent: bool,
}

impl ExtApi {
    pub fn new(config: &JobsConfig, metrics: Data<Metrics>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.ext_connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.pool_size.max(1))
            .build()?;
        Ok(Self {
            client,
            base_url: config.ext_api_url.clone(),
            breaker: Breaker::new(
                config.breaker_failure_threshold,
                config.breaker_open_duration,
            ),
            metrics,
            connect_timeout: config.ext_connect_timeout,
            attempt_timeout: config.ext_attempt_timeout,
            max_attempts: config.ext_max_attempts.max(1),
            backoff_base: config.ext_backoff_base,
            backoff_max: config.ext_backoff_max,
        })
    }

    pub fn breaker_state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// Publishes the breaker's state (the open -> half-open move is time-based,
    /// so this also runs before every scrape).
    pub fn refresh_circuit_metric(&self) {
        let current = self.breaker.state();
        for state in CircuitState::ALL {
            self.metrics
                .circuit_state
                .with_label_values(&[state.as_str()])
                .set(i64::from(state == current));
        }
    }

    /// Runs the job against the ext-api until success, a non-retryable error,
    /// the attempt budget or `deadline`, whichever comes first.
    pub async fn call(
        &self,
        job_type: JobType,
        job_id: &str,
        request_id: &str,
        payload: &Value,
        deadline: Instant,
    ) -> Result<Value, JobError> {
        let body = serde_json::to_vec(payload).map_err(|e| JobError {
            kind: ErrorKind::Invalid,
            message: format!("payload cannot be encoded: {e}"),
        })?;
        let url = format!("{}{}", self.base_url, job_type.path());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let err = match self.breaker.try_acquire() {
                Err(rejected) => {
                    self.observe("circuit_open", Duration::ZERO);
                    AttemptError {
                        kind: ErrorKind::CircuitOpen,
                        message: format!(
                            "circuit open, next probe in {} ms",
                            rejected.retry_in.as_millis()
                        ),
                        not_sent: true,
                    }
                }
                Ok(permit) => {
                    let timeout = self.attempt_timeout.min(remaining);
                    let start = Instant::now();
                    let result = self.attempt(&url, job_id, request_id, &body, timeout).await;
                    let elapsed = start.elapsed();
                    match result {
                        Ok(value) => {
                            permit.success();
                            self.observe("success", elapsed);
                            self.refresh_circuit_metric();
                            return Ok(value);
                        }
                        Err(err) => {
                            // A 4xx means the remote is healthy and the job is bad.
                            if err.kind == ErrorKind::Invalid {
                                permit.success();
                            } else {
                                permit.failure();
                            }
                            self.observe(err.kind.as_str(), elapsed);
                            self.refresh_circuit_metric();
                            err
                        }
                    }
                }
            };

            let retryable = safe_to_retry(err.kind, err.not_sent, job_type.idempotent());
            let backoff = self.backoff(attempt);
            let budget_left = deadline.saturating_duration_since(Instant::now());
            if !retryable || attempt >= self.max_attempts || backoff >= budget_left {
                let why = if !retryable {
                    String::new()
                } else if attempt >= self.max_attempts {
                    format!(" (gave up after {attempt} attempts)")
                } else {
                    format!(" (job deadline reached after {attempt} attempts)")
                };
                return Err(JobError {
                    kind: err.kind,
                    message: format!("{}{why}", err.message),
                });
            }
            warn!(
                job_id,
                attempt,
                error_kind = err.kind.as_str(),
                error = %err.message,
                backoff_ms = backoff.as_millis() as u64,
                "ext-api attempt failed, retrying"
            );
            tokio::time::sleep(backoff).await;
        }
    }

    /// Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    fn backoff(&self, attempt: u32) -> Duration {
        jittered_backoff(self.backoff_base, self.backoff_max, attempt)
    }

    fn observe(&self, outcome: &str, elapsed: Duration) {
        self.metrics
            .ext_requests
            .with_label_values(&[outcome])
            .inc();
        if outcome != "circuit_open" {
            self.metrics
                .ext_duration
                .with_label_values(&[outcome])
                .observe(elapsed.as_secs_f64());
        }
    }

    async fn attempt(
        &self,
        url: &str,
        job_id: &str,
        request_id: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Value, AttemptError> {
        if timeout.is_zero() {
            return Err(AttemptError {
                kind: ErrorKind::Timeout,
                message: "job deadline reached before the call".into(),
                not_sent: true,
            });
        }
        let response = self
            .client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("x-request-id", request_id)
            .header("idempotency-key", job_id)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| classify(&e, self.connect_timeout, timeout))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify(&e, self.connect_timeout, timeout))?;
        debug!(job_id, status = status.as_u16(), "ext-api answered");
        if status.is_server_error() {
            return Err(AttemptError {
                kind: ErrorKind::Upstream5xx,
                message: format!("ext-api answered {status}"),
                not_sent: false,
            });
        }
        if status != StatusCode::OK {
            return Err(AttemptError {
                kind: ErrorKind::Invalid,
                message: format!("ext-api answered {status}: {}", snippet(&bytes)),
                not_sent: false,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| AttemptError {
            kind: ErrorKind::Invalid,
            message: format!("ext-api answer is not JSON: {e}"),
            not_sent: false,
        })
    }
}

/// Whether an attempt that failed as `kind` may be sent again. Never for a bad
/// job (4xx) or an open circuit; otherwise only when the request surely did not
/// arrive (`not_sent`) or re-sending it is harmless (`idempotent`: quote sends
/// an `Idempotency-Key`).
fn safe_to_retry(kind: ErrorKind, not_sent: bool, idempotent: bool) -> bool {
    match kind {
        // `Internal` never comes from an attempt; a worker bug is not retried.
        ErrorKind::Invalid | ErrorKind::CircuitOpen | ErrorKind::Internal => false,
        ErrorKind::Timeout | ErrorKind::Reset | ErrorKind::Upstream5xx => not_sent || idempotent,
    }
}

pub fn jittered_backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(max);
    Duration::from_micros(fastrand::u64(0..=cap.as_micros() as u64))
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}

fn classify(e: &reqwest::Error, connect_timeout: Duration, timeout: Duration) -> AttemptError {
    if e.is_timeout() && e.is_connect() {
        // No connection, so the request was not sent.
        return AttemptError {
            kind: ErrorKind::Timeout,
            message: format!(
                "cannot connect to ext-api within {} ms",
                connect_timeout.as_millis()
            ),
            not_sent: true,
        };
    }
    if e.is_timeout() {
        return AttemptError {
            kind: ErrorKind::Timeout,
            message: format!("no answer within {} ms", timeout.as_millis()),
            not_sent: false,
        };
    }
    let chain = error_chain(e);
    let refused = chain.contains("Connection refused") || e.is_connect();
    AttemptError {
        // The contract has no separate kind for "cannot connect": it is a
        // connection-level failure like a reset; the message says which.
        kind: ErrorKind::Reset,
        message: if refused {
            format!("cannot connect to ext-api: {chain}")
        } else {
            format!("connection to ext-api failed: {chain}")
        },
        not_sent: refused,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    let mut depth = 0;
    while let Some(s) = source {
        depth += 1;
        if depth > 8 {
            break;
        }
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for attempt in 1..=30 {
            let cap = (base * 2u32.pow((attempt - 1).min(20))).min(max);
            for _ in 0..50 {
                assert!(jittered_backoff(base, max, attempt) <= cap);
            }
        }
        let distinct: std::collections::HashSet<_> =
            (0..20).map(|_| jittered_backoff(base, max, 3)).collect();
        assert!(distinct.len() > 1, "jitter");
    }

    #[test]
    fn retries_only_where_safe() {
        use ErrorKind::*;
        // (kind, not_sent, idempotent) -> retry?
        for (kind, not_sent, idempotent, retry) in [
            // A bad job and an open circuit: never.
            (Invalid, false, true, false),
            (Invalid, true, true, false),
            (CircuitOpen, true, true, false),
            // A worker bug (a panic; never from an attempt): never.
            (Internal, true, true, false),
            // The request may have arrived: only for an idempotent job type.
            (Timeout, false, true, true),
            (Timeout, false, false, false),
            (Reset, false, true, true),
            (Reset, false, false, false),
            (Upstream5xx, false, true, true),
            (Upstream5xx, false, false, false),
            // It surely did not (connection refused or not made): always.
            (Reset, true, false, true),
            (Timeout, true, false, true),
        ] {
            assert_eq!(
                safe_to_retry(kind, not_sent, idempotent),
                retry,
                "{kind:?} not_sent={not_sent} idempotent={idempotent}"
            );
        }
    }
}
