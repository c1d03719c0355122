//! Without a DSN (empty `SENTRY_DSN`) nothing is set up, nothing is sent, and
//! the service works as before (own binary: the SDK's client is process-wide).

mod common;

use std::time::Duration;

use worker_server::telemetry::error_tracking;
use worker_server::testing::{SentryReceiver, Worker, config};

#[actix_web::test]
async fn an_empty_dsn_sends_nothing_and_the_service_works() {
    common::logs();
    let sink = SentryReceiver::start();
    let config = config(&[("SENTRY_DSN", ""), ("SENTRY_ENVIRONMENT", "test")]);
    assert_eq!(config.sentry.dsn, None);
    assert!(error_tracking::init(&config.sentry, &config.build).is_none());
    assert!(!error_tracking::enabled());
    let worker = Worker::start(config).await;

    let fault = r#"{"duration_seconds": 30}"#;
    assert_eq!(worker.inject("errors", fault).await.status(), 201);
    assert_eq!(worker.get("/health", "rid-off").await.status(), 500);
    assert_eq!(worker.revert("").await.status(), 200);
    assert_eq!(worker.get("/health", "rid-on").await.status(), 200);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.requests(), 0);
    assert!(sink.events().is_empty());
    assert!(!error_tracking::enabled());
}
