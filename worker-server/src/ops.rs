//! The ops port (8081): health and metrics for compose and Prometheus. Not
//! routed by nginx. The chaos contract (`/internal/chaos`) will be added here.
//! No access log here: scrapes and health probes every few seconds would drown
//! the app's lines.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, Error, HttpResponse};

use crate::error::{ApiError, json_error_bodies, not_found};
use crate::health::Health;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::request_id::request_id;

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

/// The complete ops-port application; used by the server and by tests.
pub fn build(
    health: Health,
    metrics: Data<Metrics>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(Data::new(health))
        .app_data(metrics)
        .configure(routes)
        .default_service(web::to(not_found))
        .wrap(json_error_bodies())
        .wrap(from_fn(request_id))
}
