//! Sentry wiring over real sockets: a 5xx from the app port (the chaos `errors`
//! fault) reaches a local Sentry receiver with the exception and the `service`
//! and `request_id` tags; so does a panic while processing a job (tagged with
//! its `job_id`; the job itself ends FAILED `internal`) and a result core
//! rejects; 4xx and job failures caused by ext-api do not.
//!
//! One test only: the SDK's client is process-wide.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use worker_server::SERVICE_NAME;
use worker_server::telemetry::error_tracking;
use worker_server::testing::{
    CoreStub, ExtApiStub, SentryReceiver, Worker, config, job_id, job_with_payload,
};

#[actix_web::test]
async fn server_errors_reach_sentry_and_client_errors_and_job_failures_do_not() {
    common::logs();
    let sink = SentryReceiver::start();
    let ext = ExtApiStub::start();
    ext.status.store(502, Ordering::SeqCst);
    let core = CoreStub::start();
    let dsn = sink.dsn(2);
    let config = config(&[
        ("SENTRY_DSN", &dsn),
        ("SENTRY_ENVIRONMENT", "test"),
        ("EXT_API_URL", &ext.url()),
        ("EXT_MAX_ATTEMPTS", "1"),
        ("APP_VERSION", "6492e4b1c0de-dirty"),
        ("APP_COMMIT", "6492e4b1c0de8f3a9d2b7c4e5f60718293a4b5c6"),
    ]);
    let guard =
        error_tracking::init(&config.sentry, &config.build).expect("a DSN enables reporting");
    assert!(error_tracking::enabled());
    let worker = Worker::start(config).await;

    // 4xx: not reported.
    assert_eq!(worker.get("/no/such/path", "rid-404").await.status(), 404);
    let (status, _, _) = worker.dispatch_raw("{}").await;
    assert_eq!(status, 400);

    // A job that FAILS because of ext-api is an expected outcome: not reported.
    let result = worker.run_job(&core, Duration::from_secs(10)).await;
    assert_eq!(result["status"], "FAILED", "{result}");

    // A 5xx from the request path (chaos `errors` fault): reported.
    // A panic while processing a job (test-only hook): reported by the panic hook
    // from the job's own hub; the job ends FAILED `internal`.
    worker.panic_on_sku("PANIC");
    let panicking = job_id();
    let body = job_with_payload(
        &panicking,
        &core.callback_url(&panicking),
        serde_json::json!({"sku": "PANIC"}),
    );
    assert_eq!(worker.dispatch_raw(&body).await.0, 202);
    let result = core.wait_result(&panicking, Duration::from_secs(10)).await;
    assert_eq!(result["error"]["kind"], "internal", "{result}");
    let event = sink
        .wait_event(Duration::from_secs(10), |e| {
            e["tags"]["job_id"] == panicking.as_str()
        })
        .await;
    assert_eq!(event["tags"]["request_id"], "test-dispatch", "{event:#}");
    assert_eq!(
        event["exception"]["values"][0]["value"], "test-induced bug",
        "{event:#}"
    );

    // A result core rejects (a contract bug on one side): reported from the job's
    // hub; the job ends FAILED `internal` with core's reason.
    core.fail_status.store(400, Ordering::SeqCst);
    core.fail_next.store(1, Ordering::SeqCst);
    let rejected = job_id();
    assert_eq!(
        worker
            .dispatch(&rejected, &core.callback_url(&rejected))
            .await
            .0,
        202
    );
    let result = core.wait_result(&rejected, Duration::from_secs(10)).await;
    assert_eq!(result["error"]["kind"], "internal", "{result}");
    let event = sink
        .wait_event(Duration::from_secs(10), |e| {
            e["tags"]["job_id"] == rejected.as_str()
        })
        .await;
    assert!(
        event["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("core rejected the result: 400")),
        "{event:#}"
    );

    let fault = r#"{"duration_seconds": 30, "status": 500}"#;
    assert_eq!(worker.inject("errors", fault).await.status(), 201);
    assert_eq!(worker.get("/health", "rid-500").await.status(), 500);
    assert_eq!(worker.revert("").await.status(), 200);

    let event = sink
        .wait_event(Duration::from_secs(10), |e| {
            e["tags"]["request_id"] == "rid-500"
        })
        .await;
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["type"], "ChaosInjected", "{event:#}");
    assert_eq!(
        exception["value"], "chaos fault: injected error 500 Internal Server Error",
        "{event:#}"
    );
    // `error` is the protocol's default level, which the SDK leaves out.
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "{event:#}"
    );
    assert_eq!(event["tags"]["service"], SERVICE_NAME);
    assert_eq!(event["environment"], "test");
    // The release comes from APP_VERSION (through the configuration), nothing else.
    assert_eq!(event["release"], "worker-server@6492e4b1c0de-dirty");
    assert_eq!(event["request"]["method"], "GET", "{event:#}");
    // Everything queued is sent on flush: exactly these three events, for project 2.
    assert!(guard.flush(Some(Duration::from_secs(2))));
    let events = sink.events();
    let summary: Vec<(&str, &Value)> = events
        .iter()
        .map(|(p, e)| (p.as_str(), &e["tags"]))
        .collect();
    assert_eq!(events.len(), 3, "{summary:?}");
    assert!(events.iter().all(|(project, _)| project == "2"));
    // Panics and messages too: the release is a client option, not per capture.
    assert!(
        events
            .iter()
            .all(|(_, e)| e["release"] == "worker-server@6492e4b1c0de-dirty"),
        "{events:?}"
    );
}
