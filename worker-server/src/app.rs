//! The app port (8080): what nginx routes to. Job intake will be added here.

use actix_web::HttpResponse;
use actix_web::web::{self, Data, ServiceConfig};

use crate::health::Health;
use crate::port::Port;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(web::resource("/health").get(health));
}

async fn health(health: Data<Health>) -> HttpResponse {
    health.response()
}

/// The app port, observed: every request gets an access log line and RED metrics.
pub const PORT: Port = Port {
    routes,
    observe: true,
};
