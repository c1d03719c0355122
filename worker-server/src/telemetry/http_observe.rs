//! App-port request observation: the access log line and the RED metrics.
//! Runs inside the request-id span, so the access line carries `request_id`.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use tracing::Level;

use super::metrics::{Metrics, UNMATCHED_ROUTE};

/// Middleware (for `actix_web::middleware::from_fn`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let metrics = req.app_data::<Data<Metrics>>().cloned();

    let result = next.call(req).await;
    let elapsed = start.elapsed();

    let (status, route, error) = match &result {
        Ok(res) => (
            res.status(),
            res.request().match_pattern(),
            res.response().error().map(ToString::to_string),
        ),
        Err(err) => (
            err.as_response_error().status_code(),
            None,
            Some(err.to_string()),
        ),
    };
    // Routing happens inside `next`, so the matched pattern is read afterwards.
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    if let Some(metrics) = metrics {
        metrics.observe_request(&method, &route, status.as_u16(), elapsed);
    }

    // Millisecond float with microsecond resolution: readable and still precise.
    let duration_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let status = status.as_u16();
    let method = method.as_str();
    // `tracing` levels are static per call site, hence one site per level.
    macro_rules! access_line {
        ($level:expr) => {
            tracing::event!(
                $level,
                method,
                path,
                route,
                status,
                duration_ms,
                error = error.as_deref(),
                "request completed"
            )
        };
    }
    if status >= 500 {
        access_line!(Level::ERROR);
    } else {
        access_line!(Level::INFO);
    }
    result
}
