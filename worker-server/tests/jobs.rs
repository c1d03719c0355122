//! Job intake, ext-api calls, callbacks, circuit breaker, shutdown and chaos,
//! black-box over real sockets on port 0 (worker in-process, stub ext-api and
//! core-server on 127.0.0.1).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use worker_server::testing::{
    CoreStub, ExtApiStub, Worker, assert_none_lost, config, error_message, job_id,
    job_with_payload, metric, post_job, quote_job,
};

const WAIT: Duration = Duration::from_secs(10);

/// A stub ext-api and core-server, and a worker calling ext-api with fast backoffs.
struct Lab {
    ext: ExtApiStub,
    core: CoreStub,
    w: Worker,
}

/// Starts the log capture and a [`Lab`] whose worker also gets `extra` settings.
async fn lab(extra: &[(&str, &str)]) -> Lab {
    common::logs();
    let (ext, core) = (ExtApiStub::start(), CoreStub::start());
    let url = ext.url();
    let mut vars = vec![
        ("EXT_API_URL", url.as_str()),
        ("EXT_TIMEOUT_MS", "1000"),
        ("EXT_BACKOFF_BASE_MS", "10"),
        ("EXT_BACKOFF_MAX_MS", "50"),
        ("CALLBACK_BACKOFF_BASE_MS", "10"),
        ("CALLBACK_BACKOFF_MAX_MS", "50"),
    ];
    vars.extend_from_slice(extra);
    let w = Worker::start(config(&vars)).await;
    Lab { ext, core, w }
}

/// The body of `res`, parsed as JSON.
async fn json_body(res: reqwest::Response) -> Value {
    serde_json::from_slice(&res.bytes().await.unwrap()).unwrap()
}

#[actix_web::test]
async fn quote_job_succeeds_and_the_result_is_called_back() {
    let Lab { core, w, .. } = lab(&[]).await;
    let id = job_id();
    let (status, _, body) = w.dispatch(&id, &core.callback_url(&id)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({"job_id": id, "status": "queued"}));

    let result = core.wait_result(&id, WAIT).await;
    assert_eq!(result["job_id"], id.as_str());
    assert_eq!(result["status"], "SUCCEEDED");
    assert_eq!(result["error"], Value::Null);
    assert_eq!(result["attempt"], 1);
    assert_eq!(
        result["result"]["quote_id"],
        id.as_str(),
        "Idempotency-Key sent"
    );
    assert_eq!(result["result"]["echo"], json!({"sku": "A-1", "qty": 2}));
    // The dispatch's X-Request-ID reaches ext-api and comes back with the result.
    assert_eq!(result["result"]["request_id"], "test-dispatch");
    assert_eq!(core.request_id(&id).as_deref(), Some("test-dispatch"));
    assert!(result["finished_at"].as_str().unwrap().ends_with('Z'));

    let m = w.metrics().await;
    let ok = [("type", "quote"), ("status", "SUCCEEDED")];
    assert_eq!(m.value("worker_jobs_finished_total", &ok), 1.0);
    assert_eq!(m.value("worker_job_duration_seconds_count", &ok), 1.0);
    assert_eq!(
        m.value("ext_api_requests_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "delivered")]),
        1.0
    );
    assert_eq!(m.value("worker_queue_capacity", &[]), 100.0);
    assert_eq!(m.value("worker_queue_depth", &[]), 0.0);
    assert_eq!(
        m.value("ext_api_circuit_state", &[("state", "closed")]),
        1.0
    );
    assert!(m.contains(
        "http_server_request_duration_seconds_bucket{method=\"POST\",route=\"/internal/jobs\""
    ));

    // Logs carry job_id and request_id.
    let lines = common::logs().lines();
    let finished = lines
        .iter()
        .find(|l| l["msg"] == "job finished" && l.get("job_id") == Some(&json!(id)))
        .expect("job finished line");
    assert_eq!(finished["request_id"], "test-dispatch");
    assert_eq!(finished["status"], "SUCCEEDED");
}

#[actix_web::test]
async fn duplicates_run_once() {
    let Lab { ext, core, w } = lab(&[]).await;
    ext.delay_ms.store(200, Ordering::SeqCst);
    let id = job_id();
    let cb = core.callback_url(&id);
    assert_eq!(w.dispatch(&id, &cb).await.0, 202);
    let (status, _, body) = w.dispatch(&id, &cb).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "duplicate");
    core.wait_result(&id, WAIT).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, _, body) = w.dispatch(&id, &cb).await;
    assert_eq!((status, body["state"].clone()), (200, json!("done")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ext.requests.load(Ordering::SeqCst), 1);
    assert_eq!(core.count(&id), 1);
}

#[actix_web::test]
async fn invalid_dispatches_get_400() {
    let Lab { ext, w, .. } = lab(&[]).await;
    let id = job_id();
    let cases = [
        (
            json!({"job_id": id, "type": "fax", "payload": {}, "callback_url": "http://127.0.0.1:1/x"}),
            "type:",
        ),
        (
            json!({"job_id": "nope", "type": "quote", "payload": {}, "callback_url": "http://127.0.0.1:1/x"}),
            "job_id:",
        ),
        (
            json!({"job_id": id, "type": "quote", "payload": {}}),
            "callback_url:",
        ),
        (
            json!({"job_id": id, "type": "quote", "payload": 3, "callback_url": "http://127.0.0.1:1/x"}),
            "payload:",
        ),
    ];
    for (body, prefix) in cases {
        let (status, _, answer) = w.dispatch_raw(&body.to_string()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"], "bad_request");
        assert!(
            answer["message"].as_str().unwrap().starts_with(prefix),
            "{answer}"
        );
    }
    let (status, _, answer) = w.dispatch_raw("{not json").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(ext.requests.load(Ordering::SeqCst), 0);
    let m = w.metrics().await;
    assert_eq!(
        m.value("worker_jobs_received_total", &[("outcome", "invalid")]),
        5.0
    );
}

#[actix_web::test]
async fn full_queue_answers_429_with_retry_after_and_loses_nothing_accepted() {
    let Lab { ext, core, w } = lab(&[
        ("JOB_WORKERS", "1"),
        ("JOB_QUEUE_CAPACITY", "2"),
        ("JOB_RETRY_AFTER_SECONDS", "3"),
    ])
    .await;
    ext.delay_ms.store(300, Ordering::SeqCst);
    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..6 {
        let id = job_id();
        match w.dispatch(&id, &core.callback_url(&id)).await {
            (202, _, _) => accepted.push(id),
            (429, retry_after, body) => {
                assert_eq!(retry_after.as_deref(), Some("3"));
                assert_eq!(body["error"], "queue_full");
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        refused >= 3,
        "{refused} refused, {} accepted",
        accepted.len()
    );
    assert!((2..=3).contains(&accepted.len()));
    let m = w.metrics().await;
    assert!(m.value("worker_queue_depth", &[]) >= 1.0, "{m}");
    assert_eq!(m.value("worker_jobs_in_flight", &[]), 1.0);
    for id in &accepted {
        assert_eq!(core.wait_result(id, WAIT).await["status"], "SUCCEEDED");
    }
}

#[actix_web::test]
async fn a_fixed_pool_runs_at_most_job_workers_jobs_at_once() {
    let Lab { ext, core, w } = lab(&[("JOB_WORKERS", "3")]).await;
    ext.delay_ms.store(100, Ordering::SeqCst);
    let mut accepted = Vec::new();
    for _ in 0..12 {
        let id = job_id();
        assert_eq!(w.dispatch(&id, &core.callback_url(&id)).await.0, 202);
        accepted.push(id);
    }
    for id in &accepted {
        assert_eq!(core.wait_result(id, WAIT).await["status"], "SUCCEEDED");
    }
    // 12 queued jobs of 100 ms each: all 3 tasks were busy at once, never more.
    assert_eq!(ext.peak_concurrency(), 3);
    assert_eq!(ext.requests.load(Ordering::SeqCst), 12);
}

/// A job that panics while being processed (a worker bug, made here by the
/// test-only process hook) ends FAILED `internal` through the normal result
/// callback; its pool task survives, so the pool keeps running `JOB_WORKERS`
/// jobs at once. Before the fix every panic killed a pool task for good and
/// the job stayed "running" (re-dispatches answered "duplicate" forever).
#[actix_web::test]
async fn a_panicking_job_fails_as_internal_and_the_pool_keeps_its_size() {
    const WORKERS: usize = 3;
    let Lab { ext, core, w } = lab(&[("JOB_WORKERS", "3")]).await;
    w.panic_on_sku("PANIC");
    let panicking_job =
        |id: &str| job_with_payload(id, &core.callback_url(id), json!({"sku": "PANIC"}));
    // Twice as many panics as pool tasks: each task has to survive more than one.
    let mut panicked = Vec::new();
    for _ in 0..2 * WORKERS {
        let id = job_id();
        let (status, _, body) = w.dispatch_raw(&panicking_job(&id)).await;
        assert_eq!(status, 202, "{body}");
        panicked.push(id);
    }
    for id in &panicked {
        let result = core.wait_result(id, WAIT).await;
        assert_eq!(result["status"], "FAILED", "{result}");
        assert_eq!(result["error"]["kind"], "internal", "{result}");
        assert_eq!(
            error_message(&result),
            "worker panicked: test-induced bug",
            "{result}"
        );
        assert_eq!(result["result"], Value::Null);
    }
    assert_eq!(
        ext.requests.load(Ordering::SeqCst),
        0,
        "panicked before the call"
    );
    // Finished, not stuck "running": a re-dispatch is a duplicate of a done job.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, _, body) = w.dispatch_raw(&panicking_job(&panicked[0])).await;
    assert_eq!(
        (status, body["state"].clone()),
        (200, json!("done")),
        "{body}"
    );

    let ordinary = assert_pool_still_runs(&ext, &core, &w, WORKERS).await;

    let m = w.metrics().await;
    let internal = [
        ("type", "quote"),
        ("status", "FAILED"),
        ("error_kind", "internal"),
    ];
    assert_eq!(
        m.value("worker_jobs_finished_total", &internal),
        panicked.len() as f64
    );
    assert_eq!(m.value("worker_jobs_in_flight", &[]), 0.0);
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "delivered")]),
        (panicked.len() + ordinary) as f64
    );
    // One error line per panic, with the job's ids.
    let lines = common::logs().lines();
    for id in &panicked {
        let line = lines
            .iter()
            .find(|l| l["msg"] == "job processing panicked" && l.get("job_id") == Some(&json!(id)))
            .unwrap_or_else(|| panic!("no panic line for job {id}"));
        assert_eq!(line["level"], "error");
        assert_eq!(line["request_id"], "test-dispatch");
        assert_eq!(line["error_kind"], "internal");
    }
}

#[actix_web::test]
async fn the_internal_failure_series_exists_before_any_panic() {
    let Lab { w, .. } = lab(&[]).await;
    let m = w.metrics().await;
    let internal = [
        ("type", "quote"),
        ("status", "FAILED"),
        ("error_kind", "internal"),
    ];
    assert_eq!(m.value("worker_jobs_finished_total", &internal), 0.0);
}

/// A listener whose accept queue is full: the kernel drops new SYNs, so a
/// connection attempt hangs until the client's connect timeout.
struct Blackhole {
    addr: std::net::SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<std::net::TcpStream>,
}

impl Blackhole {
    fn start() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        // Never accepted: fill the queue until a connection attempt times out.
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue: {e}"),
            }
            assert!(queued.len() < 64, "accept queue never filled");
        }
        Self {
            addr,
            _listener: listener,
            _queued: queued,
        }
    }
}

#[actix_web::test]
async fn connect_timeout_ends_the_attempt_before_the_total_timeout() {
    let hole = Blackhole::start();
    let url = format!("http://{}", hole.addr);
    let Lab { core, w, .. } = lab(&[
        ("EXT_API_URL", url.as_str()),
        ("EXT_CONNECT_TIMEOUT_MS", "100"),
        ("EXT_TIMEOUT_MS", "2000"),
        ("EXT_MAX_ATTEMPTS", "2"),
    ])
    .await;
    let start = Instant::now();
    let r = w.run_job(&core, WAIT).await;
    let took = start.elapsed();
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(r["error"]["kind"], "timeout", "{r}");
    let message = error_message(&r);
    assert!(
        message.contains("cannot connect to ext-api within 100 ms"),
        "{r}"
    );
    assert!(message.contains("after 2 attempts"), "{r}");
    // Two attempts cut at 100 ms; one at the 2000 ms total timeout would be far longer.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let m = w.metrics().await;
    assert_eq!(
        m.value("ext_api_requests_total", &[("outcome", "timeout")]),
        2.0
    );
}

#[actix_web::test]
async fn the_job_deadline_ends_retries_with_a_failure() {
    let Lab { ext, core, w } = lab(&[
        ("EXT_TIMEOUT_MS", "300"),
        ("EXT_MAX_ATTEMPTS", "20"),
        ("JOB_DEADLINE_MS", "700"),
    ])
    .await;
    ext.delay_ms.store(5000, Ordering::SeqCst);
    let start = Instant::now();
    let r = w.run_job(&core, WAIT).await;
    let took = start.elapsed();
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(r["error"]["kind"], "timeout", "{r}");
    assert!(error_message(&r).contains("job deadline reached"), "{r}");
    // The budget, not 20 attempts of 300 ms, bounds the job.
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let sent = ext.requests.load(Ordering::SeqCst);
    assert!((2..=5).contains(&sent), "{sent} attempts reached ext-api");
}

#[actix_web::test]
async fn upstream_5xx_is_retried_then_failed_and_4xx_is_not_retried() {
    let Lab { ext, core, w } = lab(&[("EXT_MAX_ATTEMPTS", "3")]).await;
    ext.status.store(503, Ordering::SeqCst);
    let r = w.run_job(&core, WAIT).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["result"], Value::Null);
    assert_eq!(r["error"]["kind"], "upstream_5xx");
    assert!(error_message(&r).contains("after 3 attempts"), "{r}");
    assert_eq!(ext.requests.load(Ordering::SeqCst), 3);

    ext.status.store(422, Ordering::SeqCst);
    let r = w.run_job(&core, WAIT).await;
    assert_eq!(r["error"]["kind"], "invalid", "{r}");
    assert_eq!(ext.requests.load(Ordering::SeqCst), 4, "4xx: one attempt");
    let m = w.metrics().await;
    assert_eq!(
        m.value("ext_api_requests_total", &[("outcome", "upstream_5xx")]),
        3.0
    );
    assert_eq!(
        m.value(
            "worker_jobs_finished_total",
            &[("status", "FAILED"), ("error_kind", "upstream_5xx")]
        ),
        1.0
    );
}

#[actix_web::test]
async fn circuit_opens_fails_fast_and_closes_after_a_good_probe() {
    let Lab { ext, core, w } = lab(&[
        ("EXT_MAX_ATTEMPTS", "1"),
        ("BREAKER_FAILURE_THRESHOLD", "3"),
        ("BREAKER_OPEN_MS", "400"),
    ])
    .await;
    ext.status.store(500, Ordering::SeqCst);
    for _ in 0..3 {
        assert_eq!(
            w.run_job(&core, WAIT).await["error"]["kind"],
            "upstream_5xx"
        );
    }
    let m = w.metrics().await;
    assert_eq!(m.value("ext_api_circuit_state", &[("state", "open")]), 1.0);

    let start = Instant::now();
    let r = w.run_job(&core, WAIT).await;
    assert_eq!(r["error"]["kind"], "circuit_open", "{r}");
    assert!(start.elapsed() < Duration::from_millis(300), "fails fast");
    assert_eq!(ext.requests.load(Ordering::SeqCst), 3, "no call while open");

    ext.status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let m = w.metrics().await;
    assert_eq!(
        m.value("ext_api_circuit_state", &[("state", "half_open")]),
        1.0
    );
    assert_eq!(w.run_job(&core, WAIT).await["status"], "SUCCEEDED");
    let m = w.metrics().await;
    assert_eq!(
        m.value("ext_api_circuit_state", &[("state", "closed")]),
        1.0
    );
    assert_eq!(
        m.value("ext_api_requests_total", &[("outcome", "circuit_open")]),
        1.0
    );
}

#[actix_web::test]
async fn result_callback_is_retried_until_core_accepts() {
    let Lab { core, w, .. } = lab(&[]).await;
    core.fail_next.store(2, Ordering::SeqCst);
    assert_eq!(w.run_job(&core, WAIT).await["status"], "SUCCEEDED");
    let m = w.metrics().await;
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "retry")]),
        2.0
    );
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "delivered")]),
        1.0
    );
}

/// After panics: an ordinary job still succeeds, and the pool still runs
/// `workers` jobs at once (no pool task was lost). Returns how many jobs it ran.
async fn assert_pool_still_runs(
    ext: &ExtApiStub,
    core: &CoreStub,
    w: &Worker,
    workers: usize,
) -> usize {
    let result = w.run_job(core, WAIT).await;
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    ext.delay_ms.store(100, Ordering::SeqCst);
    let mut ordinary = Vec::new();
    for _ in 0..4 * workers {
        let id = job_id();
        assert_eq!(w.dispatch(&id, &core.callback_url(&id)).await.0, 202);
        ordinary.push(id);
    }
    for id in &ordinary {
        assert_eq!(core.wait_result(id, WAIT).await["status"], "SUCCEEDED");
    }
    assert_eq!(ext.peak_concurrency(), workers as u64);
    1 + ordinary.len()
}

/// A panic while a job's result is being reported is outside the job's own
/// isolation; the pool's outer net catches it: nothing is sent, the job is
/// forgotten so that core's re-dispatch runs it again, the pool keeps its size.
#[actix_web::test]
async fn a_panic_while_reporting_forgets_the_job_and_the_pool_keeps_its_size() {
    const WORKERS: usize = 2;
    let Lab { ext, core, w } = lab(&[("JOB_WORKERS", "2")]).await;
    w.panic_on_sku_while_reporting("PANIC");
    let job = |id: &str| job_with_payload(id, &core.callback_url(id), json!({"sku": "PANIC"}));
    let mut forgotten = Vec::new();
    for _ in 0..2 * WORKERS {
        let id = job_id();
        assert_eq!(w.dispatch_raw(&job(&id)).await.0, 202);
        forgotten.push(id);
    }
    w.wait_forgotten(&forgotten, WAIT).await;
    assert!(
        forgotten.iter().all(|id| core.count(id) == 0),
        "a result was sent"
    );
    assert_eq!(
        ext.requests.load(Ordering::SeqCst),
        2 * WORKERS as u64,
        "processed before the panic"
    );
    let net = "worker panicked while reporting a job, job forgotten (core will re-dispatch)";
    for id in &forgotten {
        let logged = common::logs().lines().into_iter().any(|l| {
            l["msg"] == net && l["job_id"] == id.as_str() && l["error"] == "test-induced bug"
        });
        assert!(logged, "no outer-net log line for job {id}");
    }
    // Forgotten, not "done": core's re-dispatch runs it again.
    assert_eq!(w.dispatch_raw(&job(&forgotten[0])).await.0, 202);
    assert_pool_still_runs(&ext, &core, &w, WORKERS).await;
}

#[actix_web::test]
async fn a_result_core_rejects_is_reported_failed_internal_with_cores_reason() {
    let Lab { core, w, .. } = lab(&[]).await;
    core.fail_status.store(400, Ordering::SeqCst);
    core.fail_next.store(1, Ordering::SeqCst);
    let result = w.run_job(&core, WAIT).await;
    assert_eq!(result["status"], "FAILED", "{result}");
    assert_eq!(result["error"]["kind"], "internal", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("core rejected the result: 400 Bad Request")
            && message.contains("stub_refusal"),
        "{message}"
    );
    // Not retried: the same body would be refused again.
    let m = w.metrics().await;
    for (outcome, n) in [("rejected", 1.0), ("retry", 0.0), ("delivered", 1.0)] {
        assert_eq!(
            m.value("worker_result_callbacks_total", &[("outcome", outcome)]),
            n,
            "{outcome}"
        );
    }
}

#[actix_web::test]
async fn a_job_whose_every_result_core_rejects_is_forgotten_after_two_puts() {
    let Lab { core, w, .. } = lab(&[("CALLBACK_MAX_ATTEMPTS", "5")]).await;
    core.fail_status.store(422, Ordering::SeqCst);
    core.fail_next.store(10, Ordering::SeqCst);
    let id = job_id();
    w.dispatch(&id, &core.callback_url(&id)).await;
    w.wait_forgotten(std::slice::from_ref(&id), WAIT).await;
    // The result, then the FAILED/internal that says why; nothing more.
    assert_eq!(core.fail_next.load(Ordering::SeqCst), 8);
    assert_eq!(core.count(&id), 0);
    let m = w.metrics().await;
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "rejected")]),
        2.0
    );
    assert_eq!(
        m.value("worker_result_callbacks_total", &[("outcome", "retry")]),
        0.0
    );
    // core's re-dispatch runs it again instead of being answered "duplicate".
    assert_eq!(w.dispatch(&id, &core.callback_url(&id)).await.0, 202);
}

#[actix_web::test]
async fn timing_refusals_are_retried_not_rejected() {
    for status in [408, 429] {
        let Lab { core, w, .. } = lab(&[]).await;
        core.fail_status.store(status, Ordering::SeqCst);
        core.fail_next.store(1, Ordering::SeqCst);
        assert_eq!(
            w.run_job(&core, WAIT).await["status"],
            "SUCCEEDED",
            "{status}"
        );
        let m = w.metrics().await;
        assert_eq!(
            m.value("worker_result_callbacks_total", &[("outcome", "retry")]),
            1.0,
            "{status}"
        );
        assert_eq!(
            m.value("worker_result_callbacks_total", &[("outcome", "rejected")]),
            0.0,
            "{status}"
        );
    }
}

#[actix_web::test]
async fn callback_that_never_lands_gives_up_and_forgets_the_job() {
    let Lab { w, .. } = lab(&[("CALLBACK_MAX_ATTEMPTS", "2")]).await;
    let id = job_id();
    // Nothing listens on port 9 of 127.0.0.1 (discard, not served here).
    let cb = format!("http://127.0.0.1:9/internal/jobs/{id}/result");
    w.dispatch(&id, &cb).await;
    w.wait_forgotten(std::slice::from_ref(&id), WAIT).await;
    // A re-dispatch runs it again instead of being answered "duplicate".
    assert_eq!(w.dispatch(&id, &cb).await.0, 202);
    let m = w.metrics().await;
    assert!(m.value("worker_result_callbacks_total", &[("outcome", "gave_up")]) >= 1.0);
}

#[actix_web::test]
async fn shutdown_finishes_or_hands_back_every_accepted_job() {
    let Lab { ext, core, mut w } = lab(&[("JOB_WORKERS", "2"), ("JOB_QUEUE_CAPACITY", "50")]).await;
    ext.delay_ms.store(150, Ordering::SeqCst);
    let mut accepted = Vec::new();
    for _ in 0..20 {
        let id = job_id();
        assert_eq!(w.dispatch(&id, &core.callback_url(&id)).await.0, 202);
        accepted.push(id);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (app, ops) = (w.app.clone(), w.ops.clone());
    let late = job_id();
    let start = Instant::now();
    let (report, ()) = tokio::join!(w.shutdown(Duration::from_millis(500)), async {
        // Polled after the shutdown started (which stops intake before its
        // first await): while draining, health is DOWN and a new dispatch gets
        // 503 + Retry-After over HTTP.
        let (status, retry_after, body) =
            post_job(&app, &quote_job(&late, &core.callback_url(&late))).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert_eq!(body["error"], "shutting_down");
        let health = reqwest::get(format!("{ops}/health")).await.unwrap();
        assert_eq!(health.status(), 503);
        let m = reqwest::get(format!("{ops}/metrics")).await.unwrap();
        let m = m.text().await.unwrap();
        let refused = metric(
            &m,
            "worker_jobs_received_total",
            &[("outcome", "shutting_down")],
        );
        assert_eq!(refused, 1.0);
    });
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let finished: Vec<&String> = accepted.iter().filter(|id| core.count(id) > 0).collect();
    assert!(
        !finished.is_empty() && !report.handed_back.is_empty(),
        "{report:?}"
    );
    let handed_back: Vec<&str> = report.handed_back.iter().map(String::as_str).collect();
    assert_none_lost(&accepted, &core, &handed_back);
    assert!(!handed_back.contains(&late.as_str()) && core.count(&late) == 0);
    let lines = common::logs().lines();
    for id in &report.handed_back {
        assert!(
            lines.iter().any(|l| l["msg"]
                == "job handed back to core (not finished before shutdown)"
                && l["job_id"] == id.as_str()),
            "hand-back line for {id}"
        );
    }
}

#[actix_web::test]
async fn chaos_contract_over_http() {
    let Lab { w, .. } = lab(&[]).await;

    let res = w
        .inject("errors", r#"{"duration_seconds": 2, "status": 503}"#)
        .await;
    assert_eq!(res.status(), 201);
    let fault = json_body(res).await["fault"].clone();
    assert_eq!(fault["kind"], "errors");
    assert_eq!(fault["params"], json!({"percent": 100, "status": 503}));
    assert_eq!(fault["remaining_seconds"], 2);
    for key in ["started_at", "expires_at"] {
        assert!(fault[key].as_str().unwrap().ends_with('Z'));
    }
    let res = w.inject("errors", r#"{"duration_seconds": 2}"#).await;
    assert_eq!(res.status(), 409);
    let app_health = w.get("/health", "chaos-over-http").await;
    assert_eq!(app_health.status(), 503);
    let ids: Vec<_> = app_health
        .headers()
        .get_all("x-request-id")
        .iter()
        .collect();
    assert_eq!(
        ids,
        ["chaos-over-http"],
        "the 5xx echoes the request id once"
    );
    let ops_health = reqwest::get(format!("{}/health", w.ops)).await.unwrap();
    assert_eq!(ops_health.status(), 200, "ops port is not affected");

    // Bad parameters of every kind are refused with 400 and the field's name.
    for (kind, body, field) in [
        ("cpu", r#"{"duration_seconds": 0}"#, "duration_seconds:"),
        ("cpu", r#"{"workers": 1}"#, "duration_seconds:"),
        (
            "memory",
            r#"{"duration_seconds": 5, "max_mib": 4096}"#,
            "max_mib:",
        ),
        (
            "latency",
            r#"{"duration_seconds": 5, "delay_ms": "slow"}"#,
            "delay_ms:",
        ),
        (
            "errors",
            r#"{"duration_seconds": 5, "status": 404}"#,
            "status:",
        ),
        (
            "errors",
            r#"{"duration_seconds": 601}"#,
            "duration_seconds:",
        ),
        ("disk", r#"{"duration_seconds": 5, "extra": 1}"#, "extra:"),
        ("disk", r#"{"duration_seconds": 5"#, "body:"),
    ] {
        let res = w.inject(kind, body).await;
        assert_eq!(res.status(), 400, "{kind} {body}");
        let err = json_body(res).await;
        assert_eq!(err["error"], "bad_request");
        assert!(err["message"].as_str().unwrap().starts_with(field), "{err}");
    }
    let unknown = w.inject("gpu", r#"{"duration_seconds": 5}"#).await;
    assert_eq!(unknown.status(), 404);

    let res = w
        .inject("latency", r#"{"duration_seconds": 5, "delay_ms": 200}"#)
        .await;
    assert_eq!(res.status(), 201);
    let m = w.metrics().await;
    assert_eq!(m.value("chaos_fault_active", &[("kind", "latency")]), 1.0);
    assert_eq!(m.value("chaos_fault_active", &[("kind", "cpu")]), 0.0);
    let list = w.faults().await;
    assert_eq!(list["service"], "worker-server");
    assert_eq!(list["faults"].as_array().unwrap().len(), 2);

    let del = w.revert("/errors").await;
    assert_eq!(del.status(), 200);
    assert_eq!(json_body(del).await, json!({"reverted": ["errors"]}));
    assert_eq!(w.revert("/errors").await.status(), 404);
    let start = Instant::now();
    assert_eq!(w.get("/health", "chaos-latency").await.status(), 200);
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "latency fault"
    );

    // Faults end by themselves; the others stay.
    let res = w
        .inject("cpu", r#"{"duration_seconds": 1, "load_percent": 20}"#)
        .await;
    assert_eq!(res.status(), 201);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(kinds(&w.faults().await), ["latency"]);
    let del = w.revert("").await;
    assert_eq!(json_body(del).await, json!({"reverted": ["latency"]}));
    let lines = common::logs().lines();
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "chaos fault expired" && l["kind"] == "cpu")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "chaos fault reverted" && l["kind"] == "errors")
    );
}

/// The kinds in a `GET /internal/chaos` answer.
fn kinds(list: &Value) -> Vec<&str> {
    list["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind"))
        .collect()
}

#[actix_web::test]
async fn every_chaos_fault_expires_by_itself() {
    const KINDS: [&str; 5] = ["cpu", "memory", "latency", "errors", "disk"];
    let dir = std::env::temp_dir().join(format!("worker-server-chaos-expiry-{}", job_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Lab { w, .. } = lab(&[("CHAOS_DISK_PATH", dir.to_str().unwrap())]).await;
    let injected = Instant::now();
    for (kind, body) in [
        ("cpu", r#"{"duration_seconds": 1, "load_percent": 10}"#),
        (
            "memory",
            r#"{"duration_seconds": 1, "rate_mib_per_second": 1, "max_mib": 1}"#,
        ),
        ("latency", r#"{"duration_seconds": 1, "delay_ms": 400}"#),
        ("errors", r#"{"duration_seconds": 1, "status": 502}"#),
        ("disk", r#"{"duration_seconds": 1, "size_mib": 1}"#),
    ] {
        assert_eq!(w.inject(kind, body).await.status(), 201, "{kind}");
    }
    // Active: the app port is slow and failing, the ballast file exists.
    let start = Instant::now();
    assert_eq!(w.get("/health", "chaos-expiry-1").await.status(), 502);
    assert!(start.elapsed() >= Duration::from_millis(400));
    let ballast = dir.join(format!(
        "worker-server-chaos-{}.ballast",
        std::process::id()
    ));
    assert!(ballast.exists(), "{}", ballast.display());
    let m = w.metrics().await;
    for kind in KINDS {
        assert_eq!(
            m.value("chaos_fault_active", &[("kind", kind)]),
            1.0,
            "{kind}"
        );
    }
    assert!(
        injected.elapsed() < Duration::from_secs(1),
        "checked before expiry"
    );

    // No DELETE: each fault's own timer ends it (metrics do not reap expired
    // faults; only the timers can have set these gauges back to 0).
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(injected.elapsed())).await;
    let m = w.metrics().await;
    for kind in KINDS {
        assert_eq!(
            m.value("chaos_fault_active", &[("kind", kind)]),
            0.0,
            "{kind}"
        );
        assert_eq!(
            m.value("chaos_injections_total", &[("kind", kind)]),
            1.0,
            "{kind}"
        );
    }
    assert!(kinds(&w.faults().await).is_empty());
    let start = Instant::now();
    assert_eq!(w.get("/health", "chaos-expiry-2").await.status(), 200);
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "no latency left"
    );
    assert!(!ballast.exists(), "ballast removed on expiry");
    std::fs::remove_dir(&dir).expect("nothing left in the ballast directory");
}
