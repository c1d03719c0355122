//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::OnceLock;

use worker_server::testing::Capture;

/// The log capture of this test binary, installed as the *global* subscriber on
/// first use. Every test calls this before doing anything: `tracing` caches
/// per-callsite interest, and a callsite first hit by a parallel test before a
/// thread-local (`set_default`) subscriber is registered can stay disabled,
/// which made a thread-local capture flaky. Tests share the capture, so they
/// pick their own lines by request id.
pub fn logs() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = worker_server::telemetry::logging::subscriber(
            tracing::level_filters::LevelFilter::INFO,
            worker_server::config::DEV_VERSION,
            capture.clone(),
        );
        tracing::subscriber::set_global_default(subscriber)
            .expect("first and only global subscriber");
        capture
    })
}
