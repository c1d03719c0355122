//! Throughput bench: jobs/s through intake -> pool -> toxiproxy -> ext-api stub
//! -> result callback, at 0 ms and at 200 ms of added latency (toxiproxy
//! `latency` toxic on the response path). Everything on 127.0.0.1, bounded.
//!
//!   cargo run --release --locked --example bench [-- JOBS]
//!
//! The worker runs in-process with the defaults of the binary (JOB_WORKERS=8,
//! JOB_QUEUE_CAPACITY=100, ...); `JOB_WORKERS` in the environment overrides it.

use std::time::{Duration, Instant};

use serde_json::json;
use worker_server::testing::{CoreStub, ExtApiStub, Toxiproxy, Worker, config, job_id};

#[actix_web::main]
async fn main() {
    // The in-process worker below is a developer build (no APP_VERSION in `config`).
    worker_server::telemetry::logging::init(
        tracing::level_filters::LevelFilter::ERROR,
        worker_server::config::DEV_VERSION,
        false,
    );
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
        .clamp(1, 100_000);
    let pool = std::env::var("JOB_WORKERS").unwrap_or_else(|_| "8".into());
    let toxi = Toxiproxy::shared();
    for latency_ms in [0u64, 200] {
        let ext = ExtApiStub::start();
        let core = CoreStub::start();
        let name = format!("bench-{latency_ms}-{}", &job_id()[..8]);
        let url = toxi.proxy(&name, ext.addr).await;
        if latency_ms > 0 {
            toxi.toxic(
                &name,
                "latency",
                "latency",
                "downstream",
                json!({"latency": latency_ms}),
            )
            .await;
        }
        let worker = Worker::start(config(&[
            ("EXT_API_URL", url.as_str()),
            ("JOB_WORKERS", pool.as_str()),
        ]))
        .await;
        let n = if latency_ms == 0 { jobs } else { jobs.min(400) };
        let ids: Vec<String> = (0..n).map(|_| job_id()).collect();
        let start = Instant::now();
        let mut refused = 0u64;
        for id in &ids {
            // Bounded: a 429 is retried at most 10 000 times per job.
            for _ in 0..10_000 {
                match worker.dispatch(id, &core.callback_url(id)).await.0 {
                    202 => break,
                    429 => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    other => panic!("dispatch answered {other}"),
                }
            }
        }
        let limit = Duration::from_secs(300);
        for id in &ids {
            let r = core.wait_result(id, limit).await;
            assert_eq!(r["status"], "SUCCEEDED", "{r}");
        }
        let took = start.elapsed();
        println!(
            "latency {latency_ms:>3} ms: {n} jobs in {:.2} s = {:.0} jobs/s (pool {pool}, {refused} x 429 retried)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }
}
