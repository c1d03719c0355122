//! The app port (8080): what nginx routes to. Job intake will be added here.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, Error, HttpResponse};

use crate::error::{json_error_bodies, not_found};
use crate::health::Health;
use crate::telemetry::http_observe::observe;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::request_id::request_id;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(web::resource("/health").get(health));
}

async fn health(health: Data<Health>) -> HttpResponse {
    health.response()
}

/// The complete app-port application; used by the server and by tests.
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
    // `wrap` order: the last one is outermost. The request-id span must enclose
    // the access log, which must see the final (JSON-ified) status.
    App::new()
        .app_data(Data::new(health))
        .app_data(metrics)
        .configure(routes)
        .default_service(web::to(not_found))
        .wrap(json_error_bodies())
        .wrap(from_fn(observe))
        .wrap(from_fn(request_id))
}
