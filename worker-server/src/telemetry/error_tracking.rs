//! Error reporting to Sentry (`SENTRY_DSN`; off when unset or empty).
//!
//! What is reported, and what is not:
//! - a 5xx answered by a handler or a middleware of either port (including the
//!   chaos `errors` fault), tagged `service` and `request_id`; 4xx never, and
//!   neither the 503 that refuses dispatches while shutting down (flow control,
//!   like 429, not a fault) nor a `/health` DOWN (no error behind it);
//! - panics (request handlers, job pool, anywhere), through the panic hook;
//!   inside a request or a job they carry its `request_id` (and `job_id`); a
//!   job that panics then ends FAILED `internal` (see `jobs`);
//! - a result core rejects with a 4xx (the contract is broken on one side; the
//!   job then ends FAILED `internal`, see `jobs`), tagged with the job;
//! - a runtime failure of the process (e.g. a port cannot be bound).
//!
//! Job failures caused by ext-api (timeouts, resets, 5xx, an open circuit) and
//! undeliverable result callbacks (no answer, 5xx) are expected outcomes, visible
//! in metrics and logs: they are not sent. Log lines (info and above) become breadcrumbs of the
//! request or job they belong to, never events of their own.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use sentry::integrations::tracing::BreadcrumbLayer;
use sentry::{ClientInitGuard, ClientOptions, Hub, MaxRequestBodySize};
use tracing::{Subscriber, info};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::registry::LookupSpan;

use crate::SERVICE_NAME;
use crate::config::{BuildInfo, SentryConfig};
use crate::error::ApiError;
use crate::telemetry::request_id::RequestId;

/// Upper bound for sending what is queued when the process exits.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the SDK when a DSN is configured; without one nothing is set up and
/// nothing is ever sent. Dropping the guard flushes (at most [`FLUSH_TIMEOUT`]).
/// Every event's `release` is [`BuildInfo::release`] (`worker-server@<APP_VERSION>`).
pub fn init(config: &SentryConfig, build: &BuildInfo) -> Option<ClientInitGuard> {
    let dsn = config.dsn.as_deref()?;
    let Ok(dsn) = dsn.parse() else {
        return None; // validated in `Config`
    };
    let mut options = ClientOptions::default();
    options.dsn = Some(dsn);
    options.environment = Some(config.environment.clone().into());
    let release = build.release();
    options.release = Some(release.clone().into());
    options.shutdown_timeout = FLUSH_TIMEOUT;
    // Job payloads stay out of Sentry, and request bodies are not buffered twice.
    options.max_request_body_size = MaxRequestBodySize::None;
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(|mut event| {
        event
            .tags
            .entry("service".to_owned())
            .or_insert_with(|| SERVICE_NAME.to_owned());
        Some(event)
    }));
    let guard = sentry::init(options);
    // `init` binds the client to this thread's hub; threads started later (HTTP
    // workers, the transport) inherit it from the process hub.
    Hub::main().bind_client(Hub::current().client());
    let host = guard
        .dsn()
        .map(|d| format!("{}:{}", d.host(), d.port()))
        .unwrap_or_default();
    info!(
        environment = %config.environment,
        release = %release,
        sentry_host = %host,
        "error tracking enabled (Sentry)"
    );
    Some(guard)
}

/// Whether a Sentry client is active for the calling thread.
pub fn enabled() -> bool {
    Hub::current().client().is_some_and(|c| c.is_enabled())
}

/// `tracing` layer turning log lines into breadcrumbs of the current hub (the
/// request's or the job's). Error lines do not become events: what is an error
/// worth reporting is decided explicitly (see the module docs), and job
/// failures caused by dependencies are logged at `warn`/`error` by design.
pub fn tracing_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // No `ErrorLayer` (error lines are not events) and no `SpanLayer` (no
    // performance monitoring). The level filter also keeps tracing's global
    // max-level hint at INFO, so debug call sites stay disabled.
    BreadcrumbLayer::new().with_filter(LevelFilter::INFO)
}

/// Middleware (for `actix_web::middleware::from_fn`), placed inside
/// `sentry_actix::Sentry` so that the request's own hub is current: tags the
/// scope with the request id and reports server errors.
pub async fn report_server_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req.extensions().get::<RequestId>().cloned();
    if let Some(id) = request_id {
        sentry::configure_scope(|scope| scope.set_tag("request_id", id.as_str()));
    }
    let result = next.call(req).await;
    match &result {
        Ok(res) if res.status().is_server_error() => {
            if let Some(err) = res.response().error() {
                capture(err);
            }
        }
        Ok(_) => {}
        Err(err) if err.as_response_error().status_code().is_server_error() => capture(err),
        Err(_) => {}
    }
    result
}

fn capture(err: &Error) {
    match err.as_error::<ApiError>() {
        Some(ApiError::ShuttingDown(_)) => {}
        // The typed error itself, so the event's exception type is its variant.
        Some(api) => {
            sentry::capture_error(api);
        }
        None => {
            sentry::capture_error(err);
        }
    }
}

/// Runs every job in a hub of its own, tagged with its ids, so that a panic or
/// breadcrumbs of one job do not mix with another's.
pub fn job_hub(job_id: &str, request_id: &str) -> Option<Arc<Hub>> {
    if !enabled() {
        return None;
    }
    let hub = Arc::new(Hub::new_from_top(Hub::current()));
    hub.configure_scope(|scope| {
        scope.set_tag("job_id", job_id);
        scope.set_tag("request_id", request_id);
    });
    Some(hub)
}
