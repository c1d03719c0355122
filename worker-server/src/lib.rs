//! worker-server: the infra-lab job worker.
//!
//! Layout, so that later features slot in without reshaping the crate:
//! - `config`: environment parsing, typed errors.
//! - `telemetry`: JSON logs, request ids, Prometheus metrics.
//! - `health`: lifecycle state shared by both ports' health endpoints.
//! - `port`: what both HTTP ports share (state, request ids, JSON errors).
//! - `app`: routes on the app port (8080): health, job intake.
//! - `ops`: routes on the ops port (8081): health, metrics, the chaos contract.
//! - `jobs`: bounded queue, pool, ext-api client with retries and circuit
//!   breaker, result callbacks, hand-back on shutdown.
//! - `chaos`: the chaos contract's faults.
//! - `error`: the JSON error type every 4xx/5xx body goes through.
//! - `server`: wiring of both HTTP servers, signals and graceful shutdown.
//! - `testing` (tests only, `test-util` feature): helpers shared by unit and
//!   integration tests.

pub mod app;
pub mod chaos;
pub mod config;
pub mod error;
pub mod health;
pub mod jobs;
pub mod ops;
pub mod port;
pub mod server;
pub mod telemetry;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

/// Value of the `service` field in logs, health bodies and metric labels.
pub const SERVICE_NAME: &str = "worker-server";
