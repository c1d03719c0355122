//! The ext-api path degraded by a real toxiproxy process (built from its Go
//! module by the repository's scripts/build-toxiproxy.sh when missing): latency, timeout, reset_peer
//! and a proxy that is down. Worker in-process on port 0, a real ext-api stub
//! HTTP server on port 0, everything on 127.0.0.1. Never skipped: if toxiproxy
//! cannot be built, these tests fail with the build output.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use worker_server::testing::{
    CoreStub, ExtApiStub, Toxiproxy, Worker, config, error_message, job_id,
};

const WAIT: Duration = Duration::from_secs(10);
/// Budget of one job in these tests: 3 attempts of at most 300 ms plus backoff.
const JOB_DEADLINE_MS: &str = "3000";

struct Lab {
    toxi: &'static Toxiproxy,
    proxy: String,
    core: CoreStub,
    worker: Worker,
}

async fn lab(name: &str, extra: &[(&str, &str)]) -> Lab {
    common::logs();
    let toxi = Toxiproxy::shared();
    // Captured by the test harness: shown only when this test fails.
    eprintln!("toxiproxy log: {}", toxi.log.display());
    let ext = ExtApiStub::start();
    let proxy = format!("{name}-{}", &job_id()[..8]);
    let url = toxi.proxy(&proxy, ext.addr).await;
    let mut vars = vec![
        ("EXT_API_URL", url.as_str()),
        ("EXT_CONNECT_TIMEOUT_MS", "200"),
        ("EXT_TIMEOUT_MS", "300"),
        ("EXT_MAX_ATTEMPTS", "3"),
        ("JOB_DEADLINE_MS", JOB_DEADLINE_MS),
        ("EXT_BACKOFF_BASE_MS", "20"),
        ("EXT_BACKOFF_MAX_MS", "100"),
        ("BREAKER_FAILURE_THRESHOLD", "50"),
    ];
    vars.extend_from_slice(extra);
    let worker = Worker::start(config(&vars)).await;
    // Every test owns its proxy (and worker, breaker, stubs): toxics and
    // breaker state never leak across tests running in parallel.
    Lab {
        toxi,
        proxy,
        core: CoreStub::start(),
        worker,
    }
}

impl Lab {
    /// Dispatches one job and waits for its result; returns it and the time taken.
    async fn run_job(&self) -> (Value, Duration) {
        let start = Instant::now();
        let result = self.worker.run_job(&self.core, WAIT).await;
        (result, start.elapsed())
    }

    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.worker.metrics().await.value(name, labels)
    }

    /// Asserts that the job of result `r` failed as `kind`, every one of its 3
    /// ext-api attempts having failed the same way (counted, and timed, by outcome).
    async fn assert_failed_as(&self, r: &Value, kind: &str) {
        assert_eq!(r["status"], "FAILED", "{r}");
        assert_eq!(r["error"]["kind"], kind, "{r}");
        let m = self.worker.metrics().await;
        let outcome = [("outcome", kind)];
        assert_eq!(m.value("ext_api_requests_total", &outcome), 3.0, "{r}");
        let timed = m.value("ext_api_request_duration_seconds_count", &outcome);
        assert_eq!(timed, 3.0, "{r}");
    }

    /// Adds the toxic `name` (with `attributes`) to this lab's proxy.
    async fn toxic(&self, name: &str, kind: &str, stream: &str, attributes: Value) {
        self.toxi
            .toxic(&self.proxy, name, kind, stream, attributes)
            .await;
    }
}

fn deadline() -> Duration {
    Duration::from_millis(JOB_DEADLINE_MS.parse().unwrap())
}

#[actix_web::test]
async fn latency_below_the_timeout_succeeds_above_it_fails_as_timeout() {
    let lab = lab("latency", &[]).await;
    lab.toxic("slow", "latency", "downstream", json!({"latency": 150}))
        .await;
    let (r, took) = lab.run_job().await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    assert!(took >= Duration::from_millis(150), "{took:?}");
    let sum = lab
        .metric(
            "ext_api_request_duration_seconds_sum",
            &[("outcome", "success")],
        )
        .await;
    assert!(sum >= 0.15, "ext-api duration {sum}");

    lab.toxi.remove_toxic(&lab.proxy, "slow").await;
    lab.toxic("slower", "latency", "downstream", json!({"latency": 1000}))
        .await;
    let (r, took) = lab.run_job().await;
    lab.assert_failed_as(&r, "timeout").await;
    assert!(error_message(&r).contains("after 3 attempts"), "{r}");
    assert!(took < deadline() + Duration::from_secs(1), "{took:?}");
}

#[actix_web::test]
async fn a_connection_that_never_answers_ends_as_timeout_within_the_budget() {
    let lab = lab("timeout", &[]).await;
    // timeout=0: toxiproxy holds the data and never answers nor closes.
    lab.toxic("hang", "timeout", "downstream", json!({"timeout": 0}))
        .await;
    let (r, took) = lab.run_job().await;
    lab.assert_failed_as(&r, "timeout").await;
    assert!(took >= Duration::from_millis(900), "3 x 300 ms: {took:?}");
    assert!(took < deadline() + Duration::from_secs(1), "{took:?}");
    assert_eq!(lab.metric("worker_jobs_in_flight", &[]).await, 0.0);

    lab.toxi.remove_toxic(&lab.proxy, "hang").await;
    let (r, _) = lab.run_job().await;
    assert_eq!(r["status"], "SUCCEEDED", "recovers: {r}");
}

#[actix_web::test]
async fn reset_peer_is_retried_then_failed_as_reset() {
    let lab = lab("reset", &[]).await;
    lab.toxic("rst", "reset_peer", "upstream", json!({"timeout": 0}))
        .await;
    let (r, took) = lab.run_job().await;
    lab.assert_failed_as(&r, "reset").await;
    assert!(took < deadline(), "{took:?}");
    assert_eq!(
        lab.metric(
            "worker_jobs_finished_total",
            &[("status", "FAILED"), ("error_kind", "reset")]
        )
        .await,
        1.0
    );
}

#[actix_web::test]
async fn proxy_down_opens_the_circuit_and_recovery_closes_it() {
    let lab = lab(
        "down",
        &[
            ("BREAKER_FAILURE_THRESHOLD", "3"),
            ("BREAKER_OPEN_MS", "500"),
        ],
    )
    .await;
    let (r, _) = lab.run_job().await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");

    lab.toxi.set_enabled(&lab.proxy, false).await;
    let (r, took) = lab.run_job().await;
    assert_eq!(r["error"]["kind"], "reset", "{r}");
    assert!(error_message(&r).contains("cannot connect"), "{r}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        lab.metric("ext_api_circuit_state", &[("state", "open")])
            .await,
        1.0
    );

    let (r, took) = lab.run_job().await;
    assert_eq!(r["error"]["kind"], "circuit_open", "{r}");
    assert!(took < Duration::from_millis(300), "fails fast: {took:?}");

    lab.toxi.set_enabled(&lab.proxy, true).await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    let (r, _) = lab.run_job().await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    assert_eq!(
        lab.metric("ext_api_circuit_state", &[("state", "closed")])
            .await,
        1.0
    );
    assert!(
        lab.metric("ext_api_requests_total", &[("outcome", "circuit_open")])
            .await
            >= 1.0
    );
}
