//! The ops port (8081): health and metrics for compose and Prometheus. Not
//! routed by nginx. The chaos contract (`/internal/chaos`) will be added here.
//! No access log here: scrapes and health probes every few seconds would drown
//! the app's lines.

use actix_web::HttpResponse;
use actix_web::web::{self, Data, ServiceConfig};

use crate::error::ApiError;
use crate::health::Health;
use crate::port::Port;
use crate::telemetry::metrics::Metrics;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(web::resource("/health").get(health))
        .service(web::resource("/metrics").get(metrics));
}

async fn health(health: Data<Health>) -> HttpResponse {
    health.response()
}

async fn metrics(metrics: Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let body = metrics.render()?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(body))
}

/// The ops port, not observed (see the module docs).
pub const PORT: Port = Port {
    routes,
    observe: false,
};
